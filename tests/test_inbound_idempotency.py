"""The Idempotency-Key header (I13): a repeat within 24 h answers the first response."""

import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.utils import timezone

from tests.inbound_helpers import assert_error, post
from webhooks.inbound.models import Attempt, IdempotencyKey
from whatsapp.models import Message

SEND = {"action": "send", "phone": "+14151231234", "text": "hi"}
KEY = {"Idempotency-Key": "order-1234"}


@pytest.mark.django_db
def test_it_answers_a_repeat_with_the_first_response_and_sends_nothing_new(
    client, inbound_webhook, chat
):
    first = post(client, inbound_webhook, SEND, **KEY)
    again = post(client, inbound_webhook, SEND, **KEY)
    assert again.status_code == 200 and again.json() == first.json()
    assert Message.objects.count() == 1
    assert [a.replayed for a in Attempt.objects.order_by("id")] == [False, True]
    assert (
        post(client, inbound_webhook, SEND, **{"Idempotency-Key": "other"}).json() != first.json()
    )


@pytest.mark.django_db
def test_it_forgets_a_key_after_24_hours(client, inbound_webhook, chat):
    first = post(client, inbound_webhook, SEND, **KEY).json()
    with time_machine.travel(timezone.now() + timedelta(hours=24, seconds=1)):
        later = post(client, inbound_webhook, {**SEND, "text": "new day"}, **KEY)
    assert later.status_code == 200 and later.json() != first
    assert IdempotencyKey.objects.count() == 1


@pytest.mark.django_db
def test_it_does_not_store_refusals_so_a_fixed_retry_goes_through(client, inbound_webhook, chat):
    inbound_webhook.set_enabled(False)
    assert_error(post(client, inbound_webhook, SEND, **KEY), 403)
    inbound_webhook.set_enabled(True)
    assert post(client, inbound_webhook, SEND, **KEY).status_code == 200


@pytest.mark.django_db
def test_it_refuses_an_overlong_key(client, inbound_webhook, chat):
    assert_error(post(client, inbound_webhook, SEND, **{"Idempotency-Key": "k" * 300}), 400)


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs real concurrent writers")
@pytest.mark.django_db(transaction=True)
def test_it_sends_once_under_concurrent_repeats(inbound_webhook, chat):
    results, barrier = [], threading.Barrier(6)

    def repeat():
        barrier.wait()
        try:
            results.append(post(Client(), inbound_webhook, SEND, **KEY).json())
        finally:
            connection.close()

    threads = [threading.Thread(target=repeat) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 6
    assert all(result == results[0] for result in results), results
    assert Message.objects.count() == 1
