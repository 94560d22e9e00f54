"""O6/O7: switched off on the 11th consecutive error with one email; nothing pending is lost."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail

from tests.outbound_helpers import Answer
from webhooks.outbound import dispatch
from webhooks.outbound.models import Delivery
from whatsapp.models import Chat, Message
from whatsapp.store import store_message


@pytest.fixture
def clock():
    with time_machine.travel(datetime(2026, 3, 2, 9, 0, tzinfo=UTC), tick=False) as traveller:
        yield traveller


def receive_in_chats(account, count):
    for i in range(count):
        chat, _ = Chat.get_or_create_direct(account, f"+1415555{i:04d}", f"Chat {i}")
        store_message(chat, direction=Message.RECEIVED, origin="contact", text=f"m{i}")


def fail_attempts(outbound, receiver, account, count):
    receiver.default = Answer(status=500, body=b"down for maintenance")
    receive_in_chats(account, count)
    dispatch.deliver_due()
    outbound.refresh_from_db()


def test_ten_consecutive_errors_leave_it_on(outbound, receiver, account, clock):
    fail_attempts(outbound, receiver, account, 10)
    assert outbound.enabled and outbound.consecutive_failures == 10
    assert mail.outbox == []


def test_the_eleventh_consecutive_error_disables_it_with_one_email(
    outbound, receiver, account, clock, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        fail_attempts(outbound, receiver, account, 11)
    assert not outbound.enabled and outbound.consecutive_failures == 11
    assert outbound.disabled_reason.startswith("More than 10 consecutive")
    with django_capture_on_commit_callbacks(execute=True):
        fail_attempts(outbound, receiver, account, 3)  # nothing is attempted any more
        clock.shift(timedelta(hours=3))
        dispatch.deliver_due()
    assert len(receiver.requests) == 11
    [email] = mail.outbox
    assert email.to == ["owner@example.com"]
    assert outbound.url in email.subject
    assert outbound.url in email.body
    assert "the receiver answered 500" in email.body
    assert f"/w/{outbound.workspace_id}/integrations/outbound/" in email.body
    assert "--enable" in email.body
    assert re.search(r"the \d+ deliveries still pending are kept", email.body)
    assert "(ies)" not in email.body


def test_re_enabling_delivers_the_pending_ones_at_once(outbound, receiver, account, clock):
    fail_attempts(outbound, receiver, account, 11)
    assert not outbound.enabled
    store_message(  # stored while off: never sent
        Chat.objects.first(), direction=Message.RECEIVED, origin="contact", text="while off"
    )
    receiver.default = Answer(status=200)
    pending = Delivery.objects.filter(state=Delivery.PENDING).count()
    assert pending == 11
    outbound.enable()
    assert dispatch.deliver_due() == 11  # no waiting for their backoff
    assert Delivery.objects.filter(state=Delivery.SUCCEEDED).count() == 11
    assert "while off" not in [b["message"]["text"] for b in receiver.bodies()]
    outbound.refresh_from_db()
    assert outbound.enabled and outbound.consecutive_failures == 0


def test_a_success_in_between_resets_the_streak(outbound, receiver, account, clock, monkeypatch):
    monkeypatch.setattr(dispatch, "THREADS", 1)  # the answers go to the requests in order
    receiver.answer(*[Answer(status=500)] * 6, Answer(status=200), *[Answer(status=500)] * 3)
    receive_in_chats(account, 10)
    for _ in range(10):
        dispatch.deliver_due()
    outbound.refresh_from_db()
    assert outbound.enabled and outbound.consecutive_failures == 3
