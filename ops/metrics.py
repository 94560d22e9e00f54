"""/metrics (SPEC H2): Prometheus' text format, for whoever holds METRICS_TOKEN.

Two sources, each where it is true (docs/operators.md, "Watching it"):

- counters and the send-lag histogram, counted by the process where things happen
  (timelines.metrics): with PROMETHEUS_MULTIPROC_DIR, read from every process's file, so the
  totals are right whichever gunicorn worker answers the scrape;
- backlogs, ages and the workers' state, read from the database now (ops.backlogs), so that
  they are true whichever process answers and whatever process died.
"""

from django.conf import settings
from django.http import HttpResponse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

import timelines.metrics  # noqa: F401  (declares the counters before the first scrape)
from ops import backlogs


def metrics(request):
    token = settings.METRICS_TOKEN
    if not token:
        return HttpResponse("Not found.\n", status=404, content_type="text/plain")
    given = request.headers.get("Authorization", "")
    if not constant_time_compare(given, f"Bearer {token}"):
        return HttpResponse(
            "A valid token is needed: Authorization: Bearer <METRICS_TOKEN>.\n",
            status=401,
            content_type="text/plain",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    return HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)


def registry():
    if settings.METRICS_DIR:
        counted = CollectorRegistry()
        multiprocess.MultiProcessCollector(counted, path=settings.METRICS_DIR)
    else:
        counted = REGISTRY  # this process's own counts: development, tests
    both = CollectorRegistry()
    both.register(Merged(counted))
    return both


class Merged:
    """The counters of `counted`, then the gauges read from the database."""

    def __init__(self, counted):
        self.counted = counted

    def collect(self):
        yield from self.counted.collect()
        yield from gauges(timezone.now())


def gauge(name, help_text, value):
    return GaugeMetricFamily(name, help_text, value=value)


def gauges(now):
    queued = backlogs.queued_by_account()
    oldest_queued = min((b.oldest_queued_at for b in queued if b.oldest_queued_at), default=None)
    pending = [b for b in backlogs.pending_by_target() if b.enabled]
    oldest_pending = min((b.oldest_created_at for b in pending), default=None)
    newest = backlogs.newest_heartbeat()
    beats = backlogs.heartbeats(now)
    yield gauge(
        "timelines_messages_queued", "Messages waiting to be sent", sum_of(queued, "queued")
    )
    yield gauge(
        "timelines_messages_queued_oldest_seconds",
        "Age of the oldest queued message",
        backlogs.seconds_since(oldest_queued, now),
    )
    yield gauge(
        "timelines_sender_overdue_seconds",
        "How long the most overdue account has waited past its due time",
        backlogs.sender_overdue(now),
    )
    yield gauge(
        "timelines_accounts_paused",
        "Accounts the governor has paused",
        backlogs.paused_accounts().count(),
    )
    yield gauge(
        "timelines_outbound_deliveries_pending",
        "Deliveries waiting to go to enabled webhooks and endpoints",
        sum_of(pending, "pending"),
    )
    yield gauge(
        "timelines_outbound_delivery_oldest_pending_seconds",
        "Age of the oldest delivery waiting for an enabled webhook or endpoint",
        backlogs.seconds_since(oldest_pending, now),
    )
    yield gauge(
        "timelines_worker_heartbeat_age_seconds",
        "Age of the newest heartbeat of a qcluster worker process (no worker: +Inf)",
        backlogs.seconds_since(newest.beat_at, now) if newest else float("inf"),
    )
    yield gauge(
        "timelines_workers_alive",
        "qcluster worker processes that beat within 60 s",
        sum(1 for beat in beats if beat.alive),
    )
    held = GaugeMetricFamily(
        "timelines_lease_held",
        "A loop's lease is held (1) or free (0)",
        labels=["lease"],
    )
    for lease in backlogs.leases(now):
        held.add_metric([lease.name], 1 if lease.held else 0)
    yield held


def sum_of(rows, attribute):
    return sum(getattr(row, attribute) for row in rows)
