"""What django-q2 runs: the every-minute tick, and the schedule that runs it."""

from datetime import timedelta

from django.db.models import Exists, OuterRef
from django.utils import timezone

from webhooks.outbound import aggregation, dispatch
from webhooks.outbound.models import Attempt, Delivery, OutboundWebhook

# Finished deliveries (their bodies) are kept this long, and longer while the log shows them.
KEEP_FINISHED = timedelta(days=7)

TICK = "webhooks.outbound.tasks.tick"


def tick():
    """Close aggregation windows, keep the log bounded, and make sure a drain runs: the safety net
    for lost nudges, killed workers and deliveries whose backoff has expired."""
    aggregation.close_due_windows()
    prune_logs()
    prune_deliveries()
    dispatch.wake()


def prune_logs():
    OutboundWebhook.prune_logs()


def prune_deliveries(now=None):
    """Drop finished deliveries that are old and no longer in anyone's log, so storage stays
    bounded; pending ones are never dropped (O7)."""
    cutoff = (now or timezone.now()) - KEEP_FINISHED
    logged = Attempt.objects.filter(delivery=OuterRef("pk"))
    old = Delivery.objects.filter(finished_at__lt=cutoff).exclude(state=Delivery.PENDING)
    return old.exclude(Exists(logged)).delete()[0]


def ensure_schedules(**kwargs):
    """Create (or repair) the tick's schedule; run after every `migrate`, so a fresh `make run`
    has it. Idempotent: looked up by name."""
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name="outbound webhooks: tick",
        defaults={
            "func": TICK,
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
        },
    )
