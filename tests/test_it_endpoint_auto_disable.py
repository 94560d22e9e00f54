"""W4: an endpoint is delivered by the outbound machinery: retried with backoff, switched off
after more than 10 consecutive failures with one email, nothing lost, re-enabled at once."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail

from tests.outbound_helpers import Answer
from webhooks.endpoints import event_types as types
from webhooks.outbound import dispatch
from webhooks.outbound.models import Delivery
from whatsapp.models import Message
from whatsapp.store import store_message

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def test_it_switches_off_a_failing_endpoint_with_one_email_and_keeps_its_events(
    chat, subscribe, receiver, clock, django_capture_on_commit_callbacks
):
    endpoint = subscribe(types.MESSAGE_RECEIVED_NEW)
    healthy = subscribe(types.MESSAGE_NEW, url=receiver.url.replace("/hook", "/ok"))
    receiver.default = Answer(status=500)
    answers = {"/ok": Answer(status=200)}
    receiver._next = _by_path(receiver, answers)
    with django_capture_on_commit_callbacks(execute=True):
        for i in range(13):
            store_message(chat, direction=Message.RECEIVED, origin="contact", text=f"m{i}")
        dispatch.deliver_due()
    endpoint.refresh_from_db()
    healthy.refresh_from_db()
    assert not endpoint.enabled and endpoint.consecutive_failures == 11
    assert healthy.enabled and healthy.consecutive_failures == 0
    [email] = mail.outbox
    assert email.to == ["owner@example.com"]
    assert endpoint.url in email.subject and f"--enable {endpoint.pk}" in email.body
    assert Delivery.objects.filter(endpoint=endpoint, state=Delivery.PENDING).count() == 13

    receiver.default = Answer(status=200)
    clock.shift(timedelta(minutes=1))
    endpoint.change(enabled=True)
    dispatch.deliver_due()
    assert Delivery.objects.filter(endpoint=endpoint, state=Delivery.SUCCEEDED).count() == 13


def _by_path(receiver, answers):
    original = receiver._next

    def answer(received):
        chosen = original(received)
        return answers.get(received.path, chosen)

    return answer


def test_an_owners_change_does_not_undo_a_switch_off_made_meanwhile(subscribe):
    from webhooks.endpoints.models import Endpoint
    from webhooks.outbound.targets import SWITCHED_OFF_BY_ERRORS

    endpoint = subscribe(types.MESSAGE_NEW)  # the owner's page holds this copy...
    Endpoint.objects.filter(pk=endpoint.pk).update(  # ...while the drain switches it off
        enabled=False, consecutive_failures=11, disabled_reason=SWITCHED_OFF_BY_ERRORS
    )
    endpoint.change(event_type=types.MESSAGE_RECEIVED_NEW)
    endpoint.refresh_from_db()
    assert endpoint.event_type == types.MESSAGE_RECEIVED_NEW
    assert not endpoint.enabled and endpoint.switched_off_automatically
    assert endpoint.consecutive_failures == 11
