"""O6 as the seed means it: every message that fails to reach the receiver counts, even when all
of them are in one chat, so a dead receiver is switched off about as soon as 11 have failed."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail

from tests.outbound_helpers import Answer
from webhooks.outbound import dispatch
from webhooks.outbound.models import Delivery
from whatsapp.models import Message
from whatsapp.store import store_message

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def test_it_switches_off_a_dead_receiver_after_11_messages_of_one_chat(
    outbound, receiver, chat, clock, django_capture_on_commit_callbacks
):
    receiver.default = Answer(status=500, body=b"down")
    eleventh_at = START + timedelta(seconds=2 * 10)
    with django_capture_on_commit_callbacks(execute=True):
        for i in range(13):  # a busy chat: one message every 2 seconds
            store_message(chat, direction=Message.RECEIVED, origin="contact", text=f"m{i}")
            dispatch.deliver_due()
            outbound.refresh_from_db()
            if not outbound.enabled:
                break
            clock.shift(timedelta(seconds=2))
    assert not outbound.enabled
    assert outbound.disabled_at <= eleventh_at + timedelta(minutes=1)
    assert outbound.consecutive_failures == 11
    assert len(receiver.requests) == 11  # first attempts and retries alike count (O7)
    [email] = mail.outbox
    assert email.to == ["owner@example.com"]


def test_it_keeps_the_13_messages_and_delivers_them_in_order_after_re_enabling(
    outbound, receiver, chat, clock, django_capture_on_commit_callbacks
):
    receiver.default = Answer(status=500, body=b"down")
    with django_capture_on_commit_callbacks(execute=True):
        for i in range(13):
            store_message(chat, direction=Message.RECEIVED, origin="contact", text=f"m{i}")
        dispatch.deliver_due()
    outbound.refresh_from_db()
    assert not outbound.enabled
    assert len(mail.outbox) == 1
    assert Delivery.objects.filter(state=Delivery.PENDING).count() == 13
    failed_texts = [b["message"]["text"] for b in receiver.bodies()]
    assert failed_texts == [f"m{i}" for i in range(11)]  # each counted once, in the chat's order

    receiver.requests.clear()
    receiver.default = Answer(status=200)
    clock.shift(timedelta(minutes=5))
    outbound.enable()
    dispatch.deliver_due()
    assert Delivery.objects.filter(state=Delivery.SUCCEEDED).count() == 13
    assert [b["message"]["text"] for b in receiver.bodies()] == [f"m{i}" for i in range(13)]
    outbound.refresh_from_db()
    assert outbound.enabled and outbound.consecutive_failures == 0
    assert len(mail.outbox) == 1
