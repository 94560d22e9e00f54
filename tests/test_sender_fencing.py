"""SPEC P8: a send is fenced. The transport is called only while the dispatcher holds the account,
the hold of a long send is renewed, a worker that lost its hold never calls, and what it learns
late is recorded on the message, never dropped. Driven step by step on fake clocks: dispatcher
`a` is the one that stalls, `b` the one that takes over."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import override_settings

from credits.models import Balance, LedgerEntry, grant
from tests.sender_helpers import queue
from tests.sender_transports import FlakyTransport
from whatsapp import sender
from whatsapp.models import Account, Message
from whatsapp.sender.sending import execute

COUNTING = {"simulator": "tests.sender_transports.FlakyTransport"}
HOLD = timedelta(seconds=settings.SENDER_LEASE_SECONDS)


@pytest.fixture(autouse=True)
def counting_transport(workspace):
    grant(workspace, 20)
    FlakyTransport.calls = []
    with override_settings(WHATSAPP_TRANSPORTS=COUNTING):
        yield


def refunds(message):
    return LedgerEntry.objects.filter(message_ref=message.message_id, kind=LedgerEntry.REFUND)


def claimed_job(clock):
    """Dispatcher `a` claims the account and marks its head message `sending`."""
    a = sender.Dispatcher(clock=clock, threads=0)
    [job] = a.claim(10)
    return a, job


def take_over(clock):
    """Dispatcher `b`, once a's hold has run out, claims the account and settles what it finds."""
    b = sender.Dispatcher(clock=sender.FakeClock(clock.now()), threads=0)
    b.step()
    return b


def test_it_never_calls_the_transport_after_its_hold_is_gone(workspace, chat):
    first, second = queue(chat, 2)
    clock = sender.FakeClock()
    a, job = claimed_job(clock)
    clock.sleep(HOLD.total_seconds() + 1)  # a froze (SIGSTOP) before the call
    b = take_over(clock)
    first.refresh_from_db()
    assert first.status == Message.FAILED and "may or may not have been sent" in first.error
    a.done.append(execute(job, clock))  # a wakes up: its thread reaches the call
    a.settle()
    assert FlakyTransport.calls == []  # never sent after it was reported failed
    first.refresh_from_db()
    assert first.status == Message.FAILED and "in fact never handed to WhatsApp" in first.error
    assert refunds(first).count() == 1 and Balance.of(workspace) == 20 - 1
    sender.drain_now(clock=b.clock)
    second.refresh_from_db()
    assert second.status == Message.SENT and FlakyTransport.calls == [second.message_id]


def test_it_records_an_answer_that_comes_after_the_message_was_failed(workspace, chat):
    [message] = queue(chat, 1)
    clock = sender.FakeClock()
    a, job = claimed_job(clock)
    outcome = execute(job, clock)  # handed to WhatsApp in time; then a froze before recording
    clock.sleep(HOLD.total_seconds() + 1)
    take_over(clock)
    a.done.append(outcome)
    a.settle()
    message.refresh_from_db()
    assert message.status == Message.FAILED and message.sent_at is None
    assert "WhatsApp accepted it after all" in message.error
    assert message.external_id == outcome.external_id  # its echo is known, not a new message
    assert refunds(message).count() == 1 and Balance.of(workspace) == 20


def test_a_late_answer_before_anyone_took_over_is_recorded_as_usual(workspace, chat):
    [message] = queue(chat, 1)
    clock = sender.FakeClock()
    a, job = claimed_job(clock)
    outcome = execute(job, clock)
    clock.sleep(HOLD.total_seconds() + 1)  # the hold ran out, but nobody claimed the account
    a.done.append(outcome)
    a.settle()
    message.refresh_from_db()
    assert message.status == Message.SENT and not refunds(message).exists()


def test_it_renews_the_hold_of_a_long_send(chat):
    [message] = queue(chat, 1)
    clock = sender.FakeClock()
    a, job = claimed_job(clock)
    a.inflight["a long download"] = job
    for _ in range(6):  # three holds' worth of time, a round every half hold
        clock.sleep(HOLD.total_seconds() / 2)
        a.renew()
        assert take_over(clock).sent == 0  # nobody else may send for the account
    assert job.may_call(clock.now()) and not job.lost
    del a.inflight["a long download"]
    a.done.append(execute(job, clock))
    a.settle()
    message.refresh_from_db()
    assert message.status == Message.SENT and FlakyTransport.calls == [message.message_id]


def test_a_send_whose_hold_was_not_confirmed_goes_back_to_the_queue(chat):
    [message] = queue(chat, 1)
    clock = sender.FakeClock()
    a, job = claimed_job(clock)
    clock.sleep(HOLD.total_seconds() * 0.6)  # the renewals lagged: too little of the hold left
    outcome = execute(job, clock)
    assert not outcome.called and FlakyTransport.calls == []
    a.done.append(outcome)
    a.settle()  # a still holds the account (nobody took it): the message simply waits again
    message.refresh_from_db()
    assert message.status == Message.QUEUED and message.send_attempts == 0
    sender.drain_now(clock=clock)
    message.refresh_from_db()
    assert message.status == Message.SENT and message.send_attempts == 1


def test_an_account_goes_idle_after_its_last_send_and_keeps_its_gap(chat, account):
    [first] = queue(chat, 1)
    clock = sender.FakeClock()
    rounds = 0
    dispatcher = sender.Dispatcher(clock=clock, threads=0)
    while (pause := dispatcher.step()) is not None:
        rounds += 1
        clock.sleep(pause)
    assert rounds <= 1  # not claimed again and again until its gap is over
    account.refresh_from_db()
    assert account.next_send_at is None and account.ready_at > clock.now()
    [second] = queue(chat, 1)  # queued during the gap: it waits for the gap's end
    sender.drain_now(clock=clock)
    first.refresh_from_db()
    second.refresh_from_db()
    assert 1.5 <= (second.sent_at - first.sent_at).total_seconds() <= 2.5


def test_a_message_queued_while_the_last_one_is_sent_keeps_the_account_busy(chat, account):
    [first] = queue(chat, 1)
    clock = sender.FakeClock()
    a, job = claimed_job(clock)
    outcome = execute(job, clock)
    [second] = queue(chat, 1)  # its wake finds the account held and does nothing
    a.done.append(outcome)
    a.settle()
    assert Account.objects.get(pk=account.pk).next_send_at is not None
    sender.drain_now(clock=clock)
    second.refresh_from_db()
    assert second.status == Message.SENT
