"""WAHA's events posted to /whatsapp/waha/<secret>/: messages, acks, session status, signatures."""

import logging

import pytest

from credits.models import Balance, grant
from tests.fake_waha import fixture
from whatsapp.models import Chat, Message
from whatsapp.outbox import queue_message
from whatsapp.transports import TransportError, get_transport


def test_it_stores_received_messages_with_the_contacts_name(post_event, waha_account):
    response = post_event(fixture("message_any_received"))
    assert response.status_code == 200 and response.json() == {"status": "stored"}
    message = Message.objects.get()
    assert message.direction == Message.RECEIVED and message.origin == Message.ORIGIN_CONTACT
    assert (message.text, message.external_id) == ("Hi there!", "3EB0C767D26A1D8E5A4B")
    assert (message.sender_name, message.sender_phone) == ("John Doe", "+14151231234")
    assert message.recipient_phone == "+15105566777"
    assert message.timestamp.isoformat() == "2023-11-14T22:13:20+00:00"
    assert message.created_chat and message.chat.jid == "14151231234@s.whatsapp.net"


def test_it_stores_messages_typed_on_the_phone_as_sent(post_event, waha_account, waha_chat):
    post_event(fixture("message_any_from_phone"))
    message = Message.objects.get()
    assert (message.chat, message.direction) == (waha_chat, Message.SENT)
    assert message.origin == Message.ORIGIN_PHONE and message.status == Message.SENT
    assert message.text == "Typed on the phone" and not message.created_chat


def test_it_stores_group_messages_from_their_participant(post_event, waha_account):
    post_event(fixture("message_any_group"))
    message = Message.objects.get()
    assert message.chat.is_group and message.chat.jid == "120363000000000000@g.us"
    assert message.sender_name == "Jane Roe" and message.sender_phone == ""
    assert message.external_id == "3EB05A6B7C8D9E0F1A2B"


def test_it_keeps_the_attachment_metadata_of_media_messages(post_event, waha_account):
    post_event(fixture("message_any_media"))
    message = Message.objects.get()
    assert message.has_attachment and message.text == "The invoice"
    assert (message.attachment_name, message.attachment_mime) == (
        "invoice-42.pdf",
        "application/pdf",
    )
    assert message.attachment_url.endswith("3EB0112233445566778899.pdf")


def test_duplicate_deliveries_of_an_event_store_one_message(post_event, waha_account):
    event = fixture("message_any_received")
    assert post_event(event).json() == {"status": "stored"}
    assert post_event(event).json() == {"status": "duplicate"}
    assert Message.objects.count() == 1


def sent_through_waha(chat, text="Sent through the inbound webhook"):
    """A message we queued and the transport sent: its external_id is sendText's answer."""
    grant(chat.account.workspace, 10)
    message = queue_message(chat, text=text, origin=Message.ORIGIN_INBOUND_WEBHOOK)
    Message.objects.filter(pk=message.pk).update(status=Message.SENDING)
    key = get_transport(chat.account).send(message)
    Message.objects.filter(pk=message.pk).update(status=Message.SENT, external_id=key)
    message.refresh_from_db()
    return message


def test_the_echo_of_a_message_we_sent_does_not_store_a_second_one(
    post_event, waha_account, waha_chat, fake_waha
):
    message = sent_through_waha(waha_chat)
    echo = fixture(
        "message_any_api_echo", payload__id=f"true_14151231234@c.us_{message.external_id}"
    )
    assert post_event(echo).json() == {"status": "duplicate"}
    assert Message.objects.count() == 1


def test_an_echo_that_outruns_sendtexts_answer_is_matched_to_the_message_being_sent(
    post_event, waha_account, waha_chat
):
    grant(waha_account.workspace, 10)
    message = queue_message(waha_chat, text="Sent through the inbound webhook", origin="web")
    Message.objects.filter(pk=message.pk).update(status=Message.SENDING)
    assert post_event(fixture("message_any_api_echo")).json() == {"status": "echo"}
    message.refresh_from_db()
    assert Message.objects.count() == 1 and message.external_id == "3EB0FFEEDDCCBBAA9988"


def ack(message, name, number, timestamp=1700000500678):
    return fixture(
        "message_ack",
        timestamp=timestamp,
        payload__id=f"true_14151231234@c.us_{message.external_id}",
        payload__ackName=name,
        payload__ack=number,
    )


def test_acks_move_a_sent_message_to_delivered_then_read(
    post_event, waha_account, waha_chat, status_changes
):
    message = sent_through_waha(waha_chat)
    assert post_event(ack(message, "DEVICE", 2)).json() == {"status": "updated"}
    assert post_event(ack(message, "READ", 3, 1700000600000)).json() == {"status": "updated"}
    message.refresh_from_db()
    assert message.status == Message.READ
    assert message.delivered_at.isoformat() == "2023-11-14T22:21:40.678000+00:00"
    assert message.read_at.isoformat() == "2023-11-14T22:23:20+00:00"
    assert status_changes == [("sent", "delivered"), ("delivered", "read")]


def test_late_or_repeated_acks_never_move_a_message_back(
    post_event, waha_account, waha_chat, status_changes
):
    message = sent_through_waha(waha_chat)
    post_event(ack(message, "READ", 3))
    assert post_event(ack(message, "DEVICE", 2)).json() == {"status": "unchanged"}
    assert post_event(ack(message, "READ", 3)).json() == {"status": "unchanged"}
    message.refresh_from_db()
    assert message.status == Message.READ and message.delivered_at == message.read_at
    assert status_changes == [("sent", "read")]


def test_an_error_ack_fails_the_message_and_refunds_it(post_event, waha_account, waha_chat):
    message = sent_through_waha(waha_chat)
    assert Balance.of(waha_account.workspace) == 9
    post_event(ack(message, "ERROR", -1))
    message.refresh_from_db()
    assert message.status == Message.FAILED and "could not be delivered" in message.error
    assert Balance.of(waha_account.workspace) == 10
    post_event(ack(message, "ERROR", -1))
    assert Balance.of(waha_account.workspace) == 10


def test_it_refuses_unsigned_and_badly_signed_bodies(post_event, waha_account, caplog):
    event = fixture("message_any_received")
    with caplog.at_level(logging.WARNING, logger="whatsapp.waha_webhook"):
        assert post_event(event, signature=None).status_code == 401
        assert post_event(event, signature="ab" * 64).status_code == 401
    assert "unsigned body" in caplog.text and "bad signature" in caplog.text
    assert Message.objects.count() == 0


def test_it_answers_404_to_an_unknown_secret(client, db):
    response = client.post("/whatsapp/waha/nope/", data=b"{}", content_type="application/json")
    assert response.status_code == 404


def test_it_acknowledges_and_logs_unknown_events(post_event, waha_account, caplog):
    with caplog.at_level(logging.INFO, logger="whatsapp.waha_events"):
        response = post_event(fixture("presence_update"))
    assert response.status_code == 200 and response.json() == {"status": "ignored"}
    assert "'presence.update' acknowledged and ignored" in caplog.text


def test_a_stopped_session_pauses_sending_and_working_resumes_it(
    post_event, waha_account, waha_chat, fake_waha, monkeypatch, django_capture_on_commit_callbacks
):
    woken = []
    monkeypatch.setattr("whatsapp.sender.running.wake", woken.append)
    post_event(fixture("session_status", payload__status="STOPPED"))
    waha_account.refresh_from_db()
    assert not waha_account.is_connected
    grant(waha_account.workspace, 1)
    message = queue_message(waha_chat, text="later", origin="web")
    with pytest.raises(TransportError) as caught:
        get_transport(waha_account).send(message)
    assert not caught.value.permanent and fake_waha.paths("POST") == []

    with django_capture_on_commit_callbacks(execute=True):
        post_event(fixture("session_status"))
    waha_account.refresh_from_db()
    assert waha_account.is_connected and woken == [waha_account.pk]
    assert get_transport(waha_account).send(message)


def test_it_keeps_the_restrictions_whatsapp_reports_with_the_session(post_event, waha_account):
    me = {
        "id": "15105566777@c.us",
        "reachoutTimelock": {"isActive": True, "timeEnforcementEnds": "2999-01-01T00:00:00Z"},
    }
    post_event(fixture("session_status", me=me))
    waha_account.refresh_from_db()
    restrictions = waha_account.transport_settings["restrictions"]
    assert restrictions["reachoutTimelock"]["isActive"] is True


def test_events_before_the_phone_is_linked_create_nothing(post_event, waha_connection):
    assert post_event(fixture("message_any_received")).json() == {"status": "ignored"}
    assert post_event(fixture("session_status", payload__status="SCAN_QR_CODE")).status_code == 200
    waha_connection.refresh_from_db()
    assert waha_connection.status == "SCAN_QR_CODE" and Chat.objects.count() == 0


LID = "203040506070809@lid"


def test_it_finds_the_number_behind_a_lid_through_waha(post_event, waha_account, fake_waha):
    fake_waha.lids[LID] = "14151231234@c.us"
    event = fixture("message_any_received", payload__from=LID, payload__id=f"false_{LID}_3EB0AA")
    assert post_event(event).json() == {"status": "stored"}
    message = Message.objects.get()
    assert message.chat.phone == "+14151231234" and message.sender_name == "John Doe"


def test_it_takes_the_number_the_engine_puts_beside_a_lid(post_event, waha_account, fake_waha):
    data = {"key": {"remoteJid": LID, "remoteJidAlt": "14151231234@s.whatsapp.net"}}
    event = fixture("message_any_received", payload__from=LID, payload___data=data)
    assert post_event(event).json() == {"status": "stored"}
    assert Message.objects.get().chat.jid == "14151231234@s.whatsapp.net"
    assert not any("/lids/" in path for path in fake_waha.paths())


def test_a_lid_nobody_can_resolve_is_acknowledged_and_skipped(post_event, waha_account, caplog):
    event = fixture("message_any_received", payload__from=LID, payload__id=f"false_{LID}_3EB0AB")
    with caplog.at_level(logging.INFO, logger="whatsapp.waha_events"):
        assert post_event(event).json() == {"status": "ignored"}
    assert Message.objects.count() == 0 and "not stored" in caplog.text
