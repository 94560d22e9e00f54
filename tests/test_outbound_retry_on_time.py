"""A failed delivery is retried at its due time (10 s after the first failure, ±20 % jitter),
even when no other traffic keeps a drain alive: the drain that runs out of work sets an alarm
for the next retry, and the keeper (a thread in every qcluster worker) rings it."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from tests.outbound_helpers import Answer
from timelines import keeper
from timelines.models import Alarm
from webhooks.outbound import dispatch
from webhooks.outbound.models import Delivery
from whatsapp.models import Message
from whatsapp.store import store_message

ROOT = Path(__file__).resolve().parent.parent


def test_an_alarm_keeps_its_earliest_time_and_rings_once(db, monkeypatch):
    rung = []
    monkeypatch.setitem(keeper._handlers, "test-alarm", lambda: rung.append(1))
    now = timezone.now()
    keeper.set_alarm("test-alarm", now + timedelta(seconds=20))
    keeper.set_alarm("test-alarm", now + timedelta(seconds=10))
    keeper.set_alarm("test-alarm", now + timedelta(seconds=30))  # later: ignored
    assert Alarm.objects.get(name="test-alarm").at == now + timedelta(seconds=10)
    assert keeper.ring_due(now) == now + timedelta(seconds=10) and rung == []
    later = now + timedelta(seconds=10)
    assert keeper.ring_due(later) is None and rung == [1]
    assert keeper.ring_due(later) is None and rung == [1]  # another process finds it rung


def test_the_keeper_sleeps_until_the_next_alarm_when_it_comes_before_its_round(db, monkeypatch):
    monkeypatch.setitem(keeper._handlers, "test-alarm", lambda: None)
    keeper.set_alarm("test-alarm", timezone.now() + timedelta(seconds=0.5))
    assert keeper.round_() <= 0.5


def test_a_drain_that_runs_out_of_work_sets_the_alarm_for_the_next_retry(outbound, receiver, chat):
    receiver.answer(Answer(status=503))
    store_message(chat, direction=Message.RECEIVED, origin="contact", text="hi")
    dispatch.drain()
    delivery = Delivery.objects.get()
    assert delivery.state == Delivery.PENDING and delivery.attempts == 1
    assert Alarm.objects.get(name=dispatch.ALARM).at == delivery.next_attempt_at


SETUP = """
from django.contrib.auth import get_user_model
from timelines.models import Workspace
from webhooks.outbound.models import OutboundWebhook
from whatsapp.models import Account, Chat, Message
from whatsapp.store import store_message
owner = get_user_model().objects.create_user("retry", "retry@example.com", "pw-retry-1")
workspace = Workspace.create_for(owner, "Retry")
OutboundWebhook.for_workspace(workspace).configure(url={url!r}, enabled=True)
account = Account.objects.create(workspace=workspace, phone="+15105566777", connected_by=owner,
    transport="simulator")
account.mark_connected()
chat, _ = Chat.get_or_create_direct(account, "+14151231234", "John Doe")
store_message(chat, direction=Message.RECEIVED, origin="contact", text="hello")
"""


@pytest.mark.slow
def test_it_retries_at_the_due_time_with_no_other_traffic(receiver, tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'retry.sqlite3'}",
        # Two workers run the sender's dispatchers; the others take the drains.
        "Q_WORKERS": "4",
    }
    env.pop("REDIS_URL", None)  # the ORM broker, on this test's own database
    receiver.answer(Answer(status=503))
    times = []
    record = receiver._next

    def timed(received):
        times.append(time.monotonic())
        return record(received)

    receiver._next = timed
    run = lambda *args: subprocess.run(  # noqa: E731
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True
    )
    run("migrate", "-v0")
    run("shell", "-c", SETUP.format(url=receiver.url))
    log = open(tmp_path / "qcluster.log", "w")  # noqa: SIM115 (closed with the process)
    cluster = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while len(times) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        cluster.send_signal(signal.SIGTERM)
        try:
            cluster.wait(30)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(cluster.pid, signal.SIGKILL)
            log.close()
    assert len(times) >= 2, (tmp_path / "qcluster.log").read_text()[-3000:]
    # The first retry is due 10 s (±20 %) after the failure: 10 ± 3 s allows for the jitter and
    # for the drain task to be picked up.
    assert 7 <= times[1] - times[0] <= 13, times
