"""SPEC H2: /metrics in Prometheus' text format, only for the holder of METRICS_TOKEN, with every
name SPEC lists; counters count what was committed, gauges read the database at scrape time.
(Across processes: tests/test_it_adds_up_every_process_s_counts.py and the production-shape
suite.)"""

import re

import pytest
from django.test import TestCase, override_settings
from prometheus_client.parser import text_string_to_metric_families

from credits.models import grant
from tests.inbound_helpers import post
from tests.sender_helpers import other_chat, queue
from webhooks.outbound.models import Delivery
from whatsapp import sender

TOKEN = "metrics-token-for-tests"
SPEC_NAMES = {
    "timelines_inbound_requests_total",
    "timelines_messages_sent_total",
    "timelines_messages_failed_total",
    "timelines_messages_received_total",
    "timelines_messages_queued",
    "timelines_send_lag_seconds",
    "timelines_accounts_paused",
    "timelines_outbound_deliveries_pending",
    "timelines_outbound_delivery_oldest_pending_seconds",
    "timelines_outbound_attempts_total",
    "timelines_waha_events_total",
    "timelines_sweep_recovered_total",
    "timelines_credits_spent_total",
    "timelines_credits_refunded_total",
    "timelines_worker_heartbeat_age_seconds",
}


def scrape(client):
    with override_settings(METRICS_TOKEN=TOKEN):
        response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_it_is_not_found_without_a_token_and_refused_with_a_wrong_one(client):
    assert client.get("/metrics").status_code == 404
    with override_settings(METRICS_TOKEN=TOKEN):
        assert client.get("/metrics").status_code == 401
        wrong = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}x"})
        assert wrong.status_code == 401 and b"timelines_" not in wrong.content
        assert client.get("/metrics", headers={"Authorization": TOKEN}).status_code == 401


@pytest.mark.django_db
def test_it_names_every_metric_spec_lists_and_labels_carry_no_ids(client):
    with override_settings(METRICS_TOKEN=TOKEN):
        text = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).content
    declared = set(re.findall(r"(?m)^# TYPE (\S+) ", text.decode()))
    assert SPEC_NAMES <= declared, SPEC_NAMES - declared
    for name, labels in scrape(client):
        assert not name.startswith("timelines_") or {key for key, _ in labels} <= {
            "code",
            "reason",
            "kind",
            "outcome",
            "lease",
            "le",
        }


def test_it_counts_inbound_requests_and_credits_once_committed(client, inbound_webhook, account):
    before = scrape(client)
    with TestCase.captureOnCommitCallbacks(execute=True):
        ok = post(client, inbound_webhook, {"action": "send", "phone": "+14155550100", "text": "x"})
        bad = post(client, inbound_webhook, '{"action": "send",')
    assert (ok.status_code, bad.status_code) == (200, 400)
    after = scrape(client)
    for code in ("200", "400"):
        added = value(after, "timelines_inbound_requests_total", code=code) - value(
            before, "timelines_inbound_requests_total", code=code
        )
        assert added == 1, code
    spent = value(after, "timelines_credits_spent_total") - value(
        before, "timelines_credits_spent_total"
    )
    assert spent == 1
    assert value(after, "timelines_messages_queued") == 1


def test_it_counts_sends_failures_with_their_reason_and_refunds(client, workspace, account, chat):
    grant(workspace, 10)
    queue(chat, 2)
    queue(other_chat(account, "+14155550000", "Nobody"), 1)  # the simulator: not on WhatsApp
    before = scrape(client)
    assert value(before, "timelines_messages_queued") == 3
    with TestCase.captureOnCommitCallbacks(execute=True):
        sender.drain_now()
    after = scrape(client)

    def added(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert added("timelines_messages_sent_total") == 2
    assert added("timelines_send_lag_seconds_count") == 2
    assert added("timelines_messages_failed_total", reason="not_on_whatsapp") == 1
    assert added("timelines_credits_refunded_total") == 1
    assert value(after, "timelines_messages_queued") == 0


def test_it_reads_pending_deliveries_of_enabled_targets_from_the_database(client, outbound, chat):
    for _ in range(3):
        Delivery.objects.create(webhook=outbound, kind=Delivery.MESSAGE, chat=chat, body="{}")
    samples = scrape(client)
    assert value(samples, "timelines_outbound_deliveries_pending") == 3
    assert value(samples, "timelines_outbound_delivery_oldest_pending_seconds") < 60
    outbound.disable()
    samples = scrape(client)
    assert value(samples, "timelines_outbound_deliveries_pending") == 0  # kept, not a backlog


def test_it_counts_the_accounts_the_governor_paused_until_their_pause_ends(client, account):
    from datetime import timedelta

    from django.utils import timezone

    from whatsapp.governor import pauses
    from whatsapp.models import PAUSE_NEW_CONTACTS

    assert value(scrape(client), "timelines_accounts_paused") == 0
    now = timezone.now()
    pauses.pause(account.pk, PAUSE_NEW_CONTACTS, now + timedelta(hours=1), "WhatsApp said 463")
    assert value(scrape(client), "timelines_accounts_paused") == 1
    # An ended pause no longer counts, even before the tick clears it.
    account.refresh_from_db()
    account.paused_until = now - timedelta(seconds=1)
    account.save(update_fields=["paused_until"])
    assert value(scrape(client), "timelines_accounts_paused") == 0
