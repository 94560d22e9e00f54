"""W3/W4: v2 bodies in TimelinesAI's shape key by key, signed with the endpoint's own secret
(verified with the standardwebhooks library), attachments with a temporary_download_url."""

import json
from datetime import UTC, datetime

import pytest
import time_machine
from standardwebhooks import Webhook

from webhooks.endpoints import event_types as types
from webhooks.outbound import dispatch
from whatsapp.models import Chat, Message
from whatsapp.store import store_message
from whatsapp.transports.simulator import simulator_for

AT = datetime(2024, 1, 8, 10, 35, 18, tzinfo=UTC)


@pytest.fixture
def clock():
    with time_machine.travel(AT, tick=False):
        yield


def delivered_body(receiver, endpoint):
    dispatch.deliver_due()
    [request] = receiver.requests
    headers = {k.lower(): v for k, v in request.headers.items()}
    Webhook(endpoint.secret).verify(request.body, headers)  # raises when the signature is wrong
    return json.loads(request.body), headers


def test_it_sends_a_received_message_in_timelinesai_s_shape(
    account, chat, subscribe, receiver, clock
):
    endpoint = subscribe(types.MESSAGE_RECEIVED_NEW)
    chat.assign(account.connected_by)
    store_message(
        chat,
        direction=Message.RECEIVED,
        origin=Message.ORIGIN_CONTACT,
        text="Hello 👋",
        message_id="wa_backend:ABC",
    )
    body, headers = delivered_body(receiver, endpoint)
    assert list(body) == ["event_type", "chat", "whatsapp_account", "message"]
    assert body["event_type"] == "message:received:new"
    assert body["chat"] == {
        "full_name": "John Doe",
        "chat_url": f"http://testserver/chat/{chat.pk}/messages/",
        "chat_id": chat.pk,
        "is_group": False,
        "phone": "+14151231234",
        "responsible_name": "Olive Owner",
        "responsible_email": "owner@example.com",
    }
    assert body["whatsapp_account"] == {
        "full_name": "Olive Owner",
        "email": "owner@example.com",
        "phone": "+15105566777",
    }
    assert body["message"] == {
        "text": "Hello 👋",
        "direction": "received",
        "origin": "contact",
        "timestamp": "2024-01-08 10:35:18 +0000",
        "message_uid": "wa_backend:ABC",
        "sender": {"full_name": "John Doe", "phone": "+14151231234"},
        "recipient": {"full_name": "Olive Owner", "phone": "+15105566777"},
        "reply_to_uid": None,
        "attachments": [],
    }
    assert isinstance(body["chat"]["chat_id"], int)
    assert headers["webhook-id"].startswith("msg_")


def test_a_group_message_has_empty_phones(account, group_chat, subscribe, receiver, clock):
    endpoint = subscribe(types.MESSAGE_NEW)
    store_message(group_chat, direction=Message.RECEIVED, origin="contact", text="hi all")
    body, _ = delivered_body(receiver, endpoint)
    assert body["event_type"] == "message:new"
    assert body["chat"]["is_group"] is True and body["chat"]["phone"] == ""
    assert body["message"]["sender"]["phone"] == body["message"]["recipient"]["phone"] == ""


def test_a_message_with_a_file_carries_a_temporary_download_url(
    account, chat, subscribe, receiver, clock, tmp_path
):
    endpoint = subscribe(types.MESSAGE_NEW)
    path = tmp_path / "invoice.pdf"
    path.write_bytes(b"%PDF-1.4 " + b"x" * 1225)
    simulator_for(account).receive(from_phone=chat.phone, text="", file=str(path))
    body, _ = delivered_body(receiver, endpoint)
    [item] = body["message"]["attachments"]
    assert list(item) == ["temporary_download_url", "filename", "size", "mimetype"]
    assert item["temporary_download_url"].startswith("http://testserver/files/")
    assert (item["filename"], item["size"], item["mimetype"]) == (
        "invoice.pdf",
        1234,
        "application/pdf",
    )


def test_chat_events_carry_the_chat_and_the_account(account, subscribe, receiver, clock):
    endpoint = subscribe(types.CHAT_CREATED)
    chat, _ = Chat.get_or_create_direct(account, "+14155550123", "Ann")
    body, _ = delivered_body(receiver, endpoint)
    assert list(body) == ["event_type", "chat", "whatsapp_account"]
    assert body["event_type"] == "chat:created"
    assert body["chat"]["chat_id"] == chat.pk and body["chat"]["full_name"] == "Ann"


def test_account_events_carry_the_account_the_time_and_the_reason(
    account, subscribe, receiver, clock
):
    endpoint = subscribe(types.ACCOUNT_DISCONNECTED)
    account.mark_disconnected(reason="The WAHA session is STOPPED.")
    body, _ = delivered_body(receiver, endpoint)
    assert body == {
        "event_type": "whatsapp_account:disconnected",
        "whatsapp_account": {
            "full_name": "Olive Owner",
            "email": "owner@example.com",
            "phone": "+15105566777",
            "status": "disconnected",
        },
        "timestamp": "2024-01-08 10:35:18 +0000",
        "reason": "The WAHA session is STOPPED.",
    }


def test_a_failed_message_reports_its_error_and_its_refund(
    account, chat, subscribe, receiver, clock
):
    from whatsapp.sender import fail
    from whatsapp.status import move

    endpoint = subscribe(types.MESSAGE_STATUS_CHANGED)
    message = store_message(
        chat, direction=Message.SENT, origin="inbound_webhook", status="queued", text="x", credits=1
    )
    move([message], Message.SENDING, [Message.QUEUED])
    fail(message, "The number is not on WhatsApp.", datetime.now(UTC))
    body, _ = delivered_body(receiver, endpoint)
    assert body["event_type"] == "message:status:changed"
    status = {k: body["message"][k] for k in ("status", "previous_status", "error", "refunded")}
    assert status == {
        "status": "failed",
        "previous_status": "sending",
        "error": "The number is not on WhatsApp.",
        "refunded": True,
    }
    assert body["message"]["status_changed_at"] == "2024-01-08 10:35:18 +0000"


def test_each_endpoint_signs_with_its_own_secret(account, chat, subscribe, receiver):
    first, second = subscribe(types.MESSAGE_NEW), subscribe(types.MESSAGE_RECEIVED_NEW)
    assert first.secret != second.secret
    store_message(chat, direction=Message.RECEIVED, origin="contact", text="hi")
    dispatch.deliver_due()
    assert len(receiver.requests) == 2
    for request in receiver.requests:
        headers = {k.lower(): v for k, v in request.headers.items()}
        kind = json.loads(request.body)["event_type"]
        secret = first.secret if kind == "message:new" else second.secret
        Webhook(secret).verify(request.body, headers)
    ids = {r.headers["webhook-id"] for r in receiver.requests}
    assert len(ids) == 1  # one event, one webhook-id
