"""I13: an Idempotency-Key is kept 24 hours; the hourly housekeeping drops older ones, so the
table stays bounded by a day of traffic."""

from datetime import timedelta

import time_machine
from django.utils import timezone

from webhooks.endpoints import tasks
from webhooks.inbound.models import IdempotencyKey


def key(workspace, name, age):
    return IdempotencyKey.objects.create(
        workspace=workspace,
        key=name,
        body_sha256="0" * 64,
        status=200,
        response={"status": "success", "data": {"message_id": name}},
        created_at=timezone.now() - age,
    )


def test_the_hourly_housekeeping_drops_keys_older_than_a_day(workspace):
    key(workspace, "yesterday", timedelta(hours=24, seconds=1))
    key(workspace, "last-week", timedelta(days=7))
    key(workspace, "this-morning", timedelta(hours=23, minutes=59))
    tasks.prune()
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["this-morning"]


def test_a_key_is_dropped_once_its_day_is_over(workspace):
    key(workspace, "fresh", timedelta(0))
    tasks.prune()
    assert IdempotencyKey.objects.count() == 1
    with time_machine.travel(timezone.now() + timedelta(hours=24, minutes=1)):
        tasks.prune()
    assert IdempotencyKey.objects.count() == 0
