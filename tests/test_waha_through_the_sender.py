"""The whole way: queued like the inbound webhook queues, sent by the paced sender through WAHA,
then WAHA's echo and acks, and a session that stops and comes back."""

import base64

import pytest
from django.test import TestCase

from credits.models import Balance, grant
from tests.fake_waha import fixture
from whatsapp import sender
from whatsapp.models import Message
from whatsapp.outbox import queue_message


@pytest.fixture(autouse=True)
def credits(workspace):
    grant(workspace, 20)


def queue(chat, text, **fields):
    """Queue as the endpoint does, running the on-commit wake (tests never commit)."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return queue_message(chat, text=text, origin=Message.ORIGIN_INBOUND_WEBHOOK, **fields)


def test_the_sender_sends_text_and_files_and_wahas_events_follow_them(
    waha_account, waha_chat, fake_waha, post_event
):
    fake_waha.files["/files/invoice.pdf"] = ("application/pdf", b"%PDF-1.4 invoice")
    text = queue(waha_chat, "Your order shipped")
    file = queue(
        waha_chat,
        "Your invoice",
        attachment_url=fake_waha.url + "/files/invoice.pdf",
        attachment_name="invoice.pdf",
    )
    assert sender.drain_now().sent == 2
    text.refresh_from_db()
    file.refresh_from_db()
    assert text.status == file.status == Message.SENT and text.external_id and file.external_id
    (sent_file,) = fake_waha.bodies("/api/sendFile")
    assert sent_file["caption"] == "Your invoice"
    assert base64.b64decode(sent_file["file"]["data"]) == b"%PDF-1.4 invoice"

    for message in (text, file):
        echo = f"true_14151231234@c.us_{message.external_id}"
        assert post_event(fixture("message_any_api_echo", payload__id=echo)).status_code == 200
        post_event(fixture("message_ack", payload__id=echo, payload__ackName="READ"))
    assert Message.objects.count() == 2
    assert set(Message.objects.values_list("status", flat=True)) == {Message.READ}


def test_a_refused_message_is_failed_and_refunded(waha_account, waha_chat, fake_waha):
    fake_waha.reply("POST", "/api/sendText", 400, {"message": ["chatId is invalid"]})
    message = queue(waha_chat, "Hello")
    assert sender.drain_now().failed == 1
    message.refresh_from_db()
    assert message.status == Message.FAILED and "chatId is invalid" in message.error
    assert Balance.of(waha_account.workspace) == 20


def test_messages_wait_while_the_session_is_stopped_and_go_out_when_it_works_again(
    waha_account, waha_chat, fake_waha, post_event, django_capture_on_commit_callbacks
):
    post_event(fixture("session_status", payload__status="STOPPED"))
    message = queue(waha_chat, "After the break")
    sender.drain_now()
    message.refresh_from_db()
    assert message.status == Message.QUEUED and fake_waha.bodies("/api/sendText") == []

    with django_capture_on_commit_callbacks(execute=True):
        post_event(fixture("session_status", payload__status="WORKING"))
    assert sender.drain_now().sent == 1
    message.refresh_from_db()
    assert message.status == Message.SENT
    assert fake_waha.bodies("/api/sendText")[0]["text"] == "After the break"
