"""O5, O7, O9: how a delivery is made, judged, retried and signed."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import override_settings
from standardwebhooks import Webhook

from tests.outbound_helpers import Answer, closed_port_url
from webhooks.outbound import dispatch
from webhooks.outbound.models import Delivery
from whatsapp.transports.simulator import SimulatorTransport

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def receive(account, text="hello"):
    return SimulatorTransport(account).receive(from_phone="+14151231234", text=text)


def only_delivery():
    [delivery] = Delivery.objects.all()
    return delivery


def test_it_signs_requests_so_standardwebhooks_verifies_them(outbound, receiver, account):
    receive(account, "signed 👍")
    dispatch.deliver_due()
    [request] = receiver.requests
    headers = {k.lower(): v for k, v in request.headers.items()}
    verified = Webhook(outbound.secret).verify(request.body, headers)
    assert verified["message"]["text"] == "signed 👍"
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"].startswith("Timelines-Webhooks/")
    assert headers["webhook-id"] == only_delivery().event_id


def test_a_rotated_secret_signs_with_the_new_one(outbound, receiver, account):
    old = outbound.secret
    new = outbound.rotate_secret()
    receive(account)
    dispatch.deliver_due()
    [request] = receiver.requests
    headers = {k.lower(): v for k, v in request.headers.items()}
    Webhook(new).verify(request.body, headers)
    with pytest.raises(Exception, match="signature"):
        Webhook(old).verify(request.body, headers)


def test_it_retries_a_500_with_growing_delays_and_the_same_webhook_id(
    outbound, receiver, account, clock
):
    receiver.default = Answer(status=500, body=b"boom")
    receive(account)
    dispatch.deliver_due()
    delivery = only_delivery()
    assert (delivery.state, delivery.attempts, delivery.last_status) == ("pending", 1, 500)
    delays = []
    for _ in range(5):
        delays.append((delivery.next_attempt_at - dispatch.timezone.now()).total_seconds())
        clock.move_to(delivery.next_attempt_at)
        assert dispatch.deliver_due() == 1
        delivery.refresh_from_db()
    for got, planned in zip(delays, dispatch.RETRY_DELAYS, strict=True):
        assert planned * 0.8 <= got <= planned * 1.2
    assert delivery.state == Delivery.FAILED and delivery.attempts == 6
    clock.shift(timedelta(days=1))
    assert dispatch.deliver_due() == 0  # given up
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1
    assert len(receiver.requests) == 6


def test_it_waits_as_long_as_retry_after_says(outbound, receiver, account, clock):
    receiver.answer(Answer(status=503, headers={"Retry-After": "900"}))
    receive(account)
    dispatch.deliver_due()
    delivery = only_delivery()
    assert delivery.next_attempt_at - START == timedelta(seconds=900)
    clock.shift(timedelta(seconds=899))
    assert dispatch.deliver_due() == 0
    clock.shift(timedelta(seconds=1))
    assert dispatch.deliver_due() == 1
    assert only_delivery().state == Delivery.SUCCEEDED


def test_a_success_after_failures_delivers_and_resets_the_count(outbound, receiver, account, clock):
    receiver.answer(Answer(status=500), Answer(status=502))
    receive(account)
    for _ in range(3):
        dispatch.deliver_due()
        clock.shift(timedelta(hours=1))
    delivery = only_delivery()
    assert delivery.state == Delivery.SUCCEEDED and delivery.attempts == 3
    outbound.refresh_from_db()
    assert outbound.consecutive_failures == 0


def test_it_treats_a_redirect_as_an_error_and_does_not_follow_it(outbound, receiver, account):
    receiver.answer(Answer(status=301, headers={"Location": receiver.url + "/moved"}))
    receive(account)
    dispatch.deliver_due()
    assert len(receiver.requests) == 1
    attempt = outbound.attempts.get()
    assert attempt.status == 301 and "redirect" in attempt.error and not attempt.succeeded
    assert only_delivery().state == Delivery.PENDING


@override_settings(OUTBOUND_WEBHOOK_TIMEOUT=0.3)
def test_it_gives_up_on_a_slow_receiver_after_the_timeout(outbound, receiver, account):
    receiver.answer(Answer(delay=1.5))
    receive(account)
    dispatch.deliver_due()
    attempt = outbound.attempts.get()
    assert "timed out" in attempt.error and attempt.status is None
    assert attempt.duration_ms < 1200


def test_it_records_a_refused_connection(outbound, account):
    outbound.configure(url=closed_port_url())
    receive(account)
    dispatch.deliver_due()
    attempt = outbound.attempts.get()
    assert "connection refused" in attempt.error
    assert only_delivery().state == Delivery.PENDING


def test_it_records_a_host_that_does_not_resolve(outbound, account):
    outbound.configure(url="http://no-such-host.invalid/hook")
    receive(account)
    dispatch.deliver_due()
    attempt = outbound.attempts.get()
    assert "connection failed" in attempt.error and not attempt.succeeded


def test_it_accepts_any_2xx(outbound, receiver, account):
    receiver.answer(Answer(status=204, body=b""))
    receive(account)
    dispatch.deliver_due()
    assert only_delivery().state == Delivery.SUCCEEDED


def test_pending_deliveries_go_to_the_url_in_force_when_they_are_tried(
    outbound, receiver, account, clock
):
    outbound_url = receiver.url
    outbound.configure(url=closed_port_url())
    receive(account)
    dispatch.deliver_due()
    outbound.configure(url=outbound_url)
    clock.shift(timedelta(minutes=1))
    dispatch.deliver_due()
    assert only_delivery().state == Delivery.SUCCEEDED and len(receiver.requests) == 1


def test_a_chat_s_messages_go_out_one_at_a_time_in_order(outbound, receiver, account):
    for text in ("first", "second", "third"):
        receive(account, text)
    assert len(dispatch.claim()) == 1  # the others wait behind the due first one
    Delivery.objects.update(claimed_until=None, claim_token="")
    dispatch.deliver_due()
    assert [b["message"]["text"] for b in receiver.bodies()] == ["first", "second", "third"]


def test_a_message_in_its_backoff_does_not_hold_back_the_later_ones_of_its_chat(
    outbound, receiver, account, clock
):
    receiver.answer(Answer(status=500))
    receive(account, "first")
    receive(account, "second")
    assert dispatch.deliver_due() == 2  # the first failed; the second did not wait hours for it
    clock.shift(timedelta(seconds=15))
    dispatch.deliver_due()
    assert [b["message"]["text"] for b in receiver.bodies()] == ["first", "second", "first"]


def test_a_claimed_delivery_is_not_handed_out_twice(outbound, account):
    receive(account)
    assert len(dispatch.claim()) == 1
    assert dispatch.claim() == []
