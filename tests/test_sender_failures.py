"""I10/I11: failures are refunded exactly once; temporary errors are retried in order; messages
wait for a disconnected account, up to a limit; an interrupted send is never silently repeated."""

import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import override_settings

from credits.models import Balance, LedgerEntry, grant
from tests.sender_helpers import gaps, other_chat, queue, sent_times
from tests.sender_transports import FlakyTransport
from whatsapp import sender
from whatsapp.models import Account, Message
from whatsapp.outbox import queue_message

FLAKY = {"simulator": "tests.sender_transports.FlakyTransport"}


@pytest.fixture(autouse=True)
def credits(workspace):
    grant(workspace, 20)


def refunds(message):
    return LedgerEntry.objects.filter(message_ref=message.message_id, kind=LedgerEntry.REFUND)


def assert_ledger_consistent(workspace):
    assert Balance.of(workspace) == LedgerEntry.total(workspace)


def test_it_fails_and_refunds_a_number_not_on_whatsapp_and_goes_on(workspace, account):
    bad = other_chat(account, "+14155550000", "Nobody")
    failing, after = queue(bad, 1)[0], queue(other_chat(account), 1)[0]
    sender.drain_now()
    failing.refresh_from_db()
    after.refresh_from_db()
    assert failing.status == Message.FAILED and "not on WhatsApp" in failing.error
    assert failing.failed_at is not None and refunds(failing).get().amount == 1
    assert after.status == Message.SENT
    assert Balance.of(workspace) == 19
    assert_ledger_consistent(workspace)


@override_settings(WHATSAPP_TRANSPORTS=FLAKY)
def test_it_retries_temporary_errors_with_backoff_keeping_the_order(workspace, account, chat):
    account.transport_settings = {"fail_times": 2}
    account.save()
    FlakyTransport.calls = []
    first, second = queue(chat, 2)
    sender.drain_now()
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == second.status == Message.SENT
    assert first.send_attempts == 3 and first.error == ""
    # The second message waited behind the first: FIFO holds across the retries.
    assert FlakyTransport.calls[:4] == [first.message_id] * 3 + [second.message_id]
    assert second.sent_at - first.sent_at >= timedelta(seconds=1.5)
    assert not refunds(first).exists()


@override_settings(WHATSAPP_TRANSPORTS=FLAKY)
def test_it_shows_the_retry_in_the_message_meanwhile(account, chat):
    account.transport_settings = {"fail_times": 1}
    account.save()
    FlakyTransport.calls = []
    [message] = queue(chat, 1)
    clock = sender.FakeClock()
    dispatcher = sender.Dispatcher(clock=clock, threads=0)
    dispatcher.step()
    message.refresh_from_db()
    assert message.status == Message.QUEUED
    assert "Temporary error (attempt 1 of 5), retrying in 5 s" in message.error
    assert message.retry_at is not None


@override_settings(WHATSAPP_TRANSPORTS=FLAKY)
def test_it_gives_up_after_a_few_attempts_and_refunds_once(workspace, account, chat):
    account.transport_settings = {"fail_times": 99}
    account.save()
    FlakyTransport.calls = []
    [message] = queue(chat, 1)
    sender.drain_now()
    message.refresh_from_db()
    assert message.status == Message.FAILED
    assert message.error.startswith("Gave up after 5 attempts: WhatsApp is busy")
    assert len(FlakyTransport.calls) == sender.MAX_ATTEMPTS
    assert refunds(message).count() == 1 and Balance.of(workspace) == 20
    assert_ledger_consistent(workspace)


class PageServer(BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"<!DOCTYPE html><html><body>Share page</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def share_page_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), PageServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/share/report.pdf"
    server.shutdown()


def test_it_fails_and_refunds_an_attachment_that_cannot_be_sent(workspace, chat, share_page_url):
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        message = queue_message(
            chat,
            text="the report",
            origin=Message.ORIGIN_API,
            attachment_url=share_page_url,
            attachment_name="report.pdf",
        )
    assert Balance.of(workspace) == 18
    sender.drain_now()
    message.refresh_from_db()
    assert message.status == Message.FAILED and "direct download link" in message.error
    assert refunds(message).get().amount == 2 and Balance.of(workspace) == 20


def test_it_holds_messages_for_a_disconnected_account_until_it_reconnects(account, chat):
    from django.test import TestCase

    account.mark_disconnected()
    first, second = queue(chat, 2)
    sender.drain_now()
    first.refresh_from_db()
    assert first.status == Message.QUEUED and first.error == sender.WAITING
    with TestCase.captureOnCommitCallbacks(execute=True):
        account.mark_connected()  # wakes the account
    sender.drain_now()
    assert all(1.5 <= g <= 2.5 for g in gaps(sent_times([first, second])))
    first.refresh_from_db()
    assert first.status == Message.SENT and first.error == ""


def test_it_fails_and_refunds_messages_that_waited_too_long(workspace, account, chat):
    account.mark_disconnected()
    [message] = queue(chat, 1)
    sender.drain_now()
    assert sender.tick(now=message.queued_at + timedelta(hours=23))["expired"] == 0
    assert sender.tick(now=message.queued_at + timedelta(hours=25))["expired"] == 1
    message.refresh_from_db()
    assert (
        message.status == Message.FAILED and "disconnected for more than 24 hours" in message.error
    )
    assert refunds(message).count() == 1 and Balance.of(workspace) == 20
    assert sender.tick(now=message.queued_at + timedelta(hours=26))["expired"] == 0


def test_it_fails_a_message_caught_sending_by_a_dead_worker_without_resending(
    workspace, account, chat
):
    """The in-flight case: a dispatcher marked the message `sending`, then its worker died. The
    transport may or may not have taken it; it is failed with an explicit error and refunded."""
    first, second = queue(chat, 2)
    clock = sender.FakeClock()
    dead = sender.Dispatcher(clock=clock, threads=0)
    dead.claim(10)  # claimed and marked sending, then "killed" before settling
    first.refresh_from_db()
    assert first.status == Message.SENDING
    other = sender.Dispatcher(clock=sender.FakeClock(clock.now() + timedelta(seconds=5)), threads=0)
    other.step()  # the account is still leased to the dead dispatcher: hands off
    assert other.sent == other.failed == 0
    clock.sleep(61)  # the lease runs out
    sender.drain_now(clock=clock)
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == Message.FAILED and "may or may not have been sent" in first.error
    assert first.sent_at is None and refunds(first).count() == 1
    assert second.status == Message.SENT
    assert Balance.of(workspace) == 19
    assert_ledger_consistent(workspace)


def test_it_recovers_a_lost_wake_at_the_next_tick(account, chat):
    [message] = queue(chat, 1)
    Account.objects.update(next_send_at=None)  # as if the on-commit wake never ran
    sender.drain_now()
    message.refresh_from_db()
    assert message.status == Message.QUEUED
    assert sender.tick()["rewoken"] == 1
    sender.drain_now()
    message.refresh_from_db()
    assert message.status == Message.SENT


def test_it_refunds_a_failed_message_only_once(workspace, chat):
    [message] = queue(chat, 1)
    Message.objects.filter(pk=message.pk).update(status=Message.SENDING)
    message.refresh_from_db()
    now = message.queued_at
    assert sender.fail(message, "boom", now) is True
    assert sender.fail(message, "boom again", now) is False
    assert refunds(message).count() == 1 and Balance.of(workspace) == 20
