"""SPEC H1: /health/live answers while the process serves; /health/ready checks the database, the
broker, the storage, a worker's heartbeat and the sender's backlog, in SPEC's JSON, 200 or 503,
and says no secret. The checks run in threads with connections of their own, so the data they
look at is committed (transactional_db)."""

import asyncio
import threading
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone
from django_q.conf import Conf

from timelines import workers
from timelines.models import Heartbeat
from whatsapp.models import Account

pytestmark = pytest.mark.django_db(transaction=True)

CHECKS = {"database", "broker", "storage", "worker_heartbeat", "sender_backlog"}


def ready(client):
    response = client.get("/health/ready")
    body = response.json()
    assert set(body) == {"status", "checks"} and set(body["checks"]) == CHECKS
    for check in body["checks"].values():
        assert set(check) == {"status", "reason"} and check["status"] in ("ok", "failing")
        assert check["reason"] and "\n" not in check["reason"]
    return response.status_code, body


def failing(body):
    return {name for name, check in body["checks"].items() if check["status"] == "failing"}


def beat(seconds_ago=0):
    now = timezone.now()
    workers.beat(now - timedelta(hours=1), now=now - timedelta(seconds=seconds_ago))


def test_it_answers_live_without_looking_at_anything(client):
    response = client.get("/health/live")
    assert response.status_code == 200 and response.json() == {"status": "ok", "checks": {}}


def test_it_is_ready_when_every_check_passes(client):
    beat(seconds_ago=5)
    status, body = ready(client)
    assert (status, body["status"], failing(body)) == (200, "ok", set())
    assert "5 s old" in body["checks"]["worker_heartbeat"]["reason"]


def test_it_is_not_ready_without_a_worker_heartbeat_of_the_last_minute(client):
    status, body = ready(client)
    assert (status, body["status"], failing(body)) == (503, "failing", {"worker_heartbeat"})
    assert "qcluster" in body["checks"]["worker_heartbeat"]["reason"]
    beat(seconds_ago=61)
    status, body = ready(client)
    assert (status, failing(body)) == (503, {"worker_heartbeat"})
    assert "61 s old" in body["checks"]["worker_heartbeat"]["reason"]
    beat(seconds_ago=59)
    assert ready(client)[0] == 200


def test_it_is_not_ready_when_a_due_message_waits_over_a_minute(client, account):
    beat()
    Account.objects.filter(pk=account.pk).update(
        next_send_at=timezone.now() - timedelta(seconds=30)
    )
    assert ready(client)[0] == 200  # late, but within the minute
    Account.objects.filter(pk=account.pk).update(
        next_send_at=timezone.now() - timedelta(seconds=90)
    )
    status, body = ready(client)
    assert (status, failing(body)) == (503, {"sender_backlog"})
    assert "90 s ago" in body["checks"]["sender_backlog"]["reason"]


def test_it_is_not_ready_when_the_storage_cannot_be_written(client, tmp_path):
    beat()
    blocked = tmp_path / "a-file-not-a-directory"
    blocked.write_text("")
    storages = {
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(blocked)},
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(STORAGES=storages):
        status, body = ready(client)
    assert (status, failing(body)) == (503, {"storage"})


def test_it_says_the_broker_is_down_without_saying_where_it_is(client, monkeypatch):
    beat()
    secret = "s3cret-redis-password"
    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(Conf, "REDIS", f"redis://:{secret}@127.0.0.1:1/11")
    status, body = ready(client)
    assert (status, failing(body)) == (503, {"broker"})
    assert "does not answer" in body["checks"]["broker"]["reason"]
    response = client.get("/health/ready")
    assert secret.encode() not in response.content and b"127.0.0.1" not in response.content


def test_a_worker_keeps_one_heartbeat_row_and_stopped_ones_are_forgotten_after_a_day(db):
    Heartbeat.objects.create(
        holder="gone:1",
        started_at=timezone.now() - timedelta(days=3),
        beat_at=timezone.now() - timedelta(days=2),
    )
    started = timezone.now()
    workers.beat(started)
    workers.beat(started)
    assert list(Heartbeat.objects.values_list("holder", flat=True)) == [workers.holder()]
    assert workers.newest_beat() >= started


def test_it_answers_from_a_thread_that_runs_an_event_loop(client):
    """The checks get a loop of their own: the serving thread may run one (an ASGI server, a
    test with Playwright's loop) or none (gunicorn's sync workers)."""
    beat()

    async def serve():
        return client.get("/health/ready")

    answers = []  # in a thread of its own: the suite's own thread may run a loop already
    serving = threading.Thread(target=lambda: answers.append(asyncio.run(serve())))
    serving.start()
    serving.join()
    assert answers[0].status_code == 200
