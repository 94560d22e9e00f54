"""What django-q2 runs: the every-minute tick, and the schedule that runs it."""

from django.db.models import Count

from webhooks.outbound import aggregation, dispatch
from webhooks.outbound.models import LOG_SIZE, Attempt, OutboundWebhook

TICK = "webhooks.outbound.tasks.tick"


def tick():
    """Close aggregation windows, keep the log bounded, and make sure a drain runs: the safety net
    for lost nudges, killed workers and deliveries whose backoff has expired."""
    aggregation.close_due_windows()
    prune_logs()
    dispatch.wake()


def prune_logs():
    crowded = Attempt.objects.values("webhook").annotate(n=Count("id")).filter(n__gt=LOG_SIZE)
    for row in crowded:
        OutboundWebhook(pk=row["webhook"]).prune_log()


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
