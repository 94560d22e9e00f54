"""Webhooks housekeeping, hourly: events and activations older than LOG_DAYS are dropped, and at
most LOG_SIZE activations are kept per endpoint (pending deliveries are never dropped); the
inbound webhook's Idempotency-Keys go once their 24 hours are over (I13)."""

from datetime import timedelta

from django.utils import timezone

from webhooks.endpoints.models import LOG_DAYS, Endpoint, Event
from webhooks.inbound.models import IdempotencyKey
from webhooks.outbound.models import Attempt, Delivery

PRUNE = "webhooks.endpoints.tasks.prune"


def prune(now=None):
    cutoff = (now or timezone.now()) - timedelta(days=LOG_DAYS)
    Event.objects.filter(created_at__lt=cutoff).delete()
    Attempt.objects.filter(endpoint__isnull=False, at__lt=cutoff).delete()
    Delivery.objects.filter(endpoint__isnull=False, finished_at__lt=cutoff).exclude(
        state=Delivery.PENDING
    ).delete()
    Endpoint.prune_logs()
    IdempotencyKey.purge_expired()


def ensure_schedules(**kwargs):
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name="webhooks v2: prune",
        defaults={"func": PRUNE, "schedule_type": Schedule.HOURLY, "repeats": -1},
    )
