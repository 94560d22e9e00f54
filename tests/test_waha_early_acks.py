"""WAHA's acks can outrun the sender: WAHA answers sendText, then reports the message delivered
(even read) before the sender has recorded the answer and marked the message `sent`. No such ack
is lost: it is remembered, and applied in the order of the statuses once the send is recorded;
the message is announced once, and a send that failed stays failed."""

from datetime import timedelta

import pytest
from django.test import TestCase

from credits.models import Balance, grant
from tests.fake_waha import fixture
from webhooks.outbound import dispatch
from webhooks.outbound.models import Delivery, OutboundWebhook
from whatsapp import sender
from whatsapp.models import EarlyAck, Message
from whatsapp.outbox import queue_message
from whatsapp.transports import TransportError
from whatsapp.transports.waha import WahaTransport

TEXT = "Sent through the inbound webhook"  # the echo fixture's body
ACK_NUMBERS = {"ERROR": -1, "SERVER": 1, "DEVICE": 2, "READ": 3}
DELIVERED_AT, READ_AT = 1700000500678, 1700000600000  # milliseconds, as in WAHA's envelopes


@pytest.fixture(autouse=True)
def credits(workspace):
    grant(workspace, 20)


def echo(key):
    return fixture("message_any_api_echo", payload__id=f"true_14151231234@c.us_{key}")


def ack(key, name, timestamp=DELIVERED_AT):
    return fixture(
        "message_ack",
        timestamp=timestamp,
        payload__id=f"true_14151231234@c.us_{key}",
        payload__ackName=name,
        payload__ack=ACK_NUMBERS[name],
    )


class Send:
    """What happened inside the transport call: our endpoint's answers to the events WAHA
    posted meanwhile, and the message's status while they arrived."""

    answers = ()
    status = ""


@pytest.fixture
def while_sending(monkeypatch, post_event):
    """`while_sending(events, error=None)`: during the next send, once WAHA has answered
    sendText, post `events(key)` (the answer's id) before the sender can record the answer;
    then return the id, or raise `error` instead. Returns a Send to look at afterwards."""

    def arrange(events, error=None):
        original, seen = WahaTransport.send, Send()

        def send(transport, message, attachment=None):
            key = original(transport, message, attachment)
            seen.answers = [post_event(event).json()["status"] for event in events(key)]
            seen.status = Message.objects.get(pk=message.pk).status
            if error is not None:
                raise error
            return key

        monkeypatch.setattr(WahaTransport, "send", send)
        return seen

    return arrange


def queue_and_send(chat):
    """Queue as the inbound webhook does, run the sender, return the message as it ends up."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        message = queue_message(chat, text=TEXT, origin=Message.ORIGIN_INBOUND_WEBHOOK)
    sender.drain_now()
    message.refresh_from_db()
    return message


def test_it_applies_acks_that_arrive_before_the_send_is_recorded(
    waha_account, waha_chat, while_sending, status_changes
):
    send = while_sending(lambda key: [ack(key, "DEVICE"), ack(key, "READ", READ_AT)])
    message = queue_and_send(waha_chat)
    assert send.status == Message.SENDING and send.answers == ["remembered", "remembered"]
    assert message.status == Message.READ
    assert message.delivered_at.isoformat() == "2023-11-14T22:21:40.678000+00:00"
    assert message.read_at.isoformat() == "2023-11-14T22:23:20+00:00"
    assert status_changes == [
        ("queued", "sending"),
        ("sending", "sent"),
        ("sent", "delivered"),
        ("delivered", "read"),
    ]
    assert not EarlyAck.objects.exists()


def test_it_applies_acks_for_a_sending_message_whose_echo_gave_away_its_id(
    waha_account, waha_chat, while_sending
):
    send = while_sending(lambda key: [echo(key), ack(key, "DEVICE")])
    message = queue_and_send(waha_chat)
    assert send.answers == ["echo", "remembered"] and send.status == Message.SENDING
    assert message.status == Message.DELIVERED and Message.objects.count() == 1


def test_it_applies_early_acks_in_the_order_of_the_statuses(
    waha_account, waha_chat, while_sending, status_changes
):
    send = while_sending(lambda key: [ack(key, "READ", READ_AT), ack(key, "DEVICE")])
    message = queue_and_send(waha_chat)
    assert send.answers == ["remembered", "remembered"]
    assert message.status == Message.READ and message.delivered_at < message.read_at
    assert status_changes[-2:] == [("sent", "delivered"), ("delivered", "read")]


def test_it_announces_a_message_acked_early_to_the_outbound_webhook_once(
    waha_account, waha_chat, while_sending, receiver
):
    OutboundWebhook.for_workspace(waha_account.workspace).configure(url=receiver.url, enabled=True)
    while_sending(lambda key: [ack(key, "DEVICE"), ack(key, "READ", READ_AT)])
    message = queue_and_send(waha_chat)
    assert message.status == Message.READ
    assert Delivery.objects.filter(message=message).count() == 1
    assert dispatch.deliver_due() == 1
    assert [body["message"]["message_id"] for body in receiver.bodies()] == [message.message_id]


def test_an_early_error_ack_fails_the_sent_message_and_refunds_it_once(
    waha_account, waha_chat, while_sending
):
    while_sending(lambda key: [ack(key, "ERROR"), ack(key, "ERROR")])
    message = queue_and_send(waha_chat)
    assert message.status == Message.FAILED and "could not be delivered" in message.error
    assert Balance.of(waha_account.workspace) == 20


def test_an_early_ack_never_revives_a_send_that_failed(waha_account, waha_chat, while_sending):
    refused = TransportError("WAHA refused the message.", permanent=True)
    send = while_sending(lambda key: [ack(key, "DEVICE")], error=refused)
    message = queue_and_send(waha_chat)
    assert send.answers == ["remembered"]
    assert message.status == Message.FAILED and message.delivered_at is None
    assert Balance.of(waha_account.workspace) == 20


def test_acks_after_the_send_is_recorded_are_applied_at_once(waha_account, waha_chat, post_event):
    message = queue_and_send(waha_chat)
    assert post_event(ack(message.external_id, "DEVICE")).json() == {"status": "updated"}
    assert not EarlyAck.objects.exists()


def test_it_ignores_acks_for_unknown_messages_while_nothing_is_being_sent(
    waha_account, waha_chat, post_event
):
    assert post_event(ack("3EB0000000000000DEAD", "READ")).json() == {"status": "ignored"}
    assert not EarlyAck.objects.exists()


def test_it_forgets_early_acks_that_never_met_their_send_after_an_hour(
    waha_account, waha_chat, while_sending
):
    # The send fails: its ack stays remembered until the one-minute tick forgets it.
    while_sending(lambda key: [ack(key, "DEVICE")], error=TransportError("no", permanent=True))
    queue_and_send(waha_chat)
    (early,) = EarlyAck.objects.all()
    assert sender.tick(now=early.received_at + timedelta(minutes=59))["early_acks_forgotten"] == 0
    assert sender.tick(now=early.received_at + timedelta(minutes=61))["early_acks_forgotten"] == 1
    assert not EarlyAck.objects.exists()


def test_it_keeps_an_overlong_id_of_an_early_ack_to_the_size_of_a_message_id(
    waha_account, waha_chat, while_sending
):
    send = while_sending(lambda key: [ack("9" * 300, "DEVICE")])
    assert queue_and_send(waha_chat).status == Message.SENT
    assert send.answers == ["remembered"]
    assert EarlyAck.objects.get().external_id == "9" * 200
