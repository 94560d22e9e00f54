"""The worker container's health check (deploy/compose.yaml): `manage.py heartbeat` exits 0
only when a qcluster worker process of this very host beat within the last minute."""

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from timelines import workers
from timelines.models import Heartbeat


def test_it_passes_when_a_process_of_this_host_beat_within_a_minute(db, capsys):
    workers.beat(timezone.now())
    call_command("heartbeat")
    assert "1 worker process(es)" in capsys.readouterr().out


def test_it_fails_on_a_silent_host_whatever_other_hosts_do(db):
    now = timezone.now()
    Heartbeat.objects.create(holder="another-machine:12", started_at=now, beat_at=now)
    with pytest.raises(CommandError, match="no worker process"):
        call_command("heartbeat")
    workers.beat(now - timedelta(minutes=5), now=now - timedelta(seconds=61))
    with pytest.raises(CommandError, match="1 known"):
        call_command("heartbeat")
