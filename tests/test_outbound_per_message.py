"""O2/O3: every message, one POST each, in the seed's shape."""

import re

import pytest
from django.db import transaction

from tests.outbound_helpers import seed_example, shape
from webhooks.outbound import dispatch
from webhooks.outbound.models import Delivery, OutboundWebhook
from whatsapp.models import Chat, Message
from whatsapp.status import move
from whatsapp.store import store_message
from whatsapp.transports.simulator import SimulatorTransport

TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000")


def receive(account, text="hello", **kwargs):
    return SimulatorTransport(account).receive(from_phone="+14151231234", text=text, **kwargs)


def test_it_posts_a_received_message_in_the_seeds_shape(outbound, receiver, account):
    message = receive(account, name="John Doe")
    assert dispatch.deliver_due() == 1
    [body] = receiver.bodies()
    assert shape(body) == shape(seed_example("seed_message"))
    assert body["message"]["direction"] == "received"
    assert body["message"]["message_id"] == message.message_id
    assert TIMESTAMP.fullmatch(body["message"]["timestamp"])
    assert body["message"]["sender"] == {"full_name": "John Doe", "phone": "+14151231234"}
    assert body["message"]["recipient"] == {"full_name": "Olive Owner", "phone": "+15105566777"}
    assert body["whatsapp_account"] == {
        "full_name": "Olive Owner",
        "email": "owner@example.com",
        "phone": "+15105566777",
    }
    chat = message.chat
    assert body["chat"]["chat_id"] == str(chat.pk)
    assert body["chat"]["chat_url"] == f"http://testserver/chat/{chat.pk}/messages/"
    assert body["chat"]["is_new_chat"] is True and body["chat"]["is_group"] is False


def test_it_says_a_chat_is_new_only_for_the_message_that_created_it(outbound, receiver, account):
    receive(account, "first")
    receive(account, "second")
    dispatch.deliver_due()
    dispatch.deliver_due()
    assert [b["chat"]["is_new_chat"] for b in receiver.bodies()] == [True, False]


def test_it_posts_a_message_typed_on_the_phone_as_sent(outbound, receiver, chat):
    store_message(chat, direction=Message.SENT, origin=Message.ORIGIN_PHONE, text="from phone")
    dispatch.deliver_due()
    [body] = receiver.bodies()
    assert body["message"]["direction"] == "sent"
    assert body["message"]["sender"]["phone"] == "+15105566777"
    assert body["message"]["recipient"] == {"full_name": "John Doe", "phone": "+14151231234"}
    assert body["chat"]["phone"] == "+14151231234"


def test_it_posts_group_messages_with_is_group_and_empty_phones(outbound, receiver, account):
    receive(account, "hi all", name="Ann", group="Team")
    dispatch.deliver_due()
    [body] = receiver.bodies()
    assert shape(body) == shape(seed_example("seed_message"))
    assert body["chat"]["is_group"] is True
    assert body["chat"]["phone"] == ""
    assert body["message"]["sender"] == {"full_name": "Ann", "phone": ""}
    assert body["message"]["recipient"]["phone"] == ""


def queue(chat, text="queued"):
    return store_message(
        chat,
        direction=Message.SENT,
        origin=Message.ORIGIN_INBOUND_WEBHOOK,
        text=text,
        status=Message.QUEUED,
    )


def change_status(message, status):
    assert move([message], status, [message.status])


def test_it_announces_a_message_we_queue_when_it_is_sent(outbound, receiver, chat):
    message = queue(chat)
    assert dispatch.deliver_due() == 0
    change_status(message, Message.SENDING)
    assert dispatch.deliver_due() == 0
    change_status(message, Message.SENT)
    change_status(message, Message.DELIVERED)  # announced once, not at every status
    assert dispatch.deliver_due() == 1
    assert [b["message"]["message_id"] for b in receiver.bodies()] == [message.message_id]


def test_it_never_announces_a_message_that_failed(outbound, receiver, chat):
    message = queue(chat)
    change_status(message, Message.SENDING)
    change_status(message, Message.FAILED)
    assert dispatch.deliver_due() == 0 and receiver.requests == []


def test_it_skips_and_counts_messages_with_an_attachment(outbound, receiver, chat):
    store_message(
        chat,
        direction=Message.RECEIVED,
        origin="contact",
        text="see file",
        attachment_name="cv.pdf",
        attachment_mime="application/pdf",
        attachment_size=10,
    )
    store_message(chat, direction=Message.RECEIVED, origin="contact", text="plain")
    dispatch.deliver_due()
    assert [b["message"]["text"] for b in receiver.bodies()] == ["plain"]
    outbound.refresh_from_db()
    assert outbound.skipped_attachments == 1 and outbound.last_skipped_at


def test_it_does_not_send_messages_stored_while_disabled(outbound, receiver, account):
    outbound.disable()
    receive(account, "while off")
    outbound.enable()
    receive(account, "back on")
    dispatch.deliver_due()
    assert [b["message"]["text"] for b in receiver.bodies()] == ["back on"]


def test_it_sends_nothing_for_a_workspace_without_a_webhook(receiver, account):
    receive(account)
    assert not Delivery.objects.exists() and not OutboundWebhook.objects.exists()


def test_it_keeps_the_order_of_a_chats_messages(outbound, receiver, account, chat):
    other, _ = Chat.get_or_create_direct(account, "+14155552671", "Ann")
    texts = [f"m{i}" for i in range(6)]
    for i, text in enumerate(texts):
        target = chat if i % 2 == 0 else other
        store_message(target, direction=Message.RECEIVED, origin="contact", text=text)
    dispatch.deliver_due()
    got = [b["message"]["text"] for b in receiver.bodies()]
    by_chat = {chat.chat_id: [], other.chat_id: []}
    for body in receiver.bodies():
        by_chat[body["chat"]["chat_id"]].append(body["message"]["text"])
    assert sorted(got) == texts
    assert by_chat == {chat.chat_id: ["m0", "m2", "m4"], other.chat_id: ["m1", "m3", "m5"]}


@pytest.mark.django_db(transaction=True)
def test_it_nudges_a_drain_when_the_message_commits(outbound, receiver, account, monkeypatch):
    woken = []
    monkeypatch.setattr(dispatch, "wake", lambda: woken.append(1))
    with transaction.atomic():
        receive(account)
        assert woken == []
    assert woken == [1]


def test_it_announces_what_the_paced_sender_sent_and_not_what_failed(
    outbound, receiver, account, django_capture_on_commit_callbacks, monkeypatch
):
    from credits.models import grant
    from whatsapp import sender
    from whatsapp.outbox import queue_message

    monkeypatch.setattr(dispatch, "wake", lambda: None)  # deliver_due is called directly
    grant(account.workspace, 5)
    good, _ = Chat.get_or_create_direct(account, "+14151231234", "John Doe")
    bad, _ = Chat.get_or_create_direct(account, "+14155550000", "Nobody")
    with django_capture_on_commit_callbacks(execute=True):  # the sender's wake-up
        sent = queue_message(good, text="via inbound", origin=Message.ORIGIN_INBOUND_WEBHOOK)
        queue_message(bad, text="never", origin=Message.ORIGIN_INBOUND_WEBHOOK)
    assert dispatch.deliver_due() == 0
    sender.drain_now()
    dispatch.deliver_due()
    [body] = receiver.bodies()
    assert body["message"]["message_id"] == sent.message_id
    assert body["message"]["direction"] == "sent" and body["message"]["text"] == "via inbound"
