"""The keeper: one thread in every qcluster worker process that makes sure what must run does,
without a busy loop.

The apps register two kinds of work with it, in their AppConfig.ready():
- a look (`every_round`), run every couple of seconds: the paced sender's, which restarts a dead
  dispatcher as soon as its lease expires rather than at the next one-minute tick;
- an alarm handler (`on_alarm`), run by one process when an alarm rings: the outbound drains set
  one for their next retry when they run out of work, so a retry goes out at its time even when
  no other traffic keeps a drain alive.

An alarm is a row (timelines.models.Alarm) whose time only moves earlier when set, and that is
rung by a compare-and-swap, so on any number of processes and machines one of them runs the
handler. The keeper is also its process's heartbeat (timelines.workers.beat, about every 10 s): the
readiness check and the metrics see from it that a worker lives, whatever task it is running.

The keeper sleeps until the next alarm or its next round, whichever comes first; an alarm
set by another process meanwhile is seen at the next round, so it rings on time when it is more
than a round away (the earliest outbound retry is 8 s away).
"""

import logging
import multiprocessing
import random
import threading
import time
from datetime import timedelta

from django.db import IntegrityError, connections, transaction
from django.db.models import Q
from django.utils import timezone

from timelines import workers
from timelines.models import Alarm

log = logging.getLogger(__name__)

EVERY = 2  # seconds (about) between two rounds
BEAT_EVERY = 10  # seconds (about) between two heartbeats of the process

_looks = {}
_handlers = {}


def every_round(name, look):
    """Run `look()` at every round of the keeper."""
    _looks[name] = look


def on_alarm(name, handler):
    """Run `handler()` in one process when the alarm `name` rings."""
    _handlers[name] = handler


def set_alarm(name, at):
    """Ring the alarm `name` at `at`, or earlier if it is already set earlier."""
    if Alarm.objects.filter(name=name).filter(Q(at__isnull=True) | Q(at__gt=at)).update(at=at):
        return
    if Alarm.objects.filter(name=name).exists():
        return  # already set earlier
    try:
        with transaction.atomic():
            Alarm.objects.create(name=name, at=at)
    except IntegrityError:  # another process created it first
        set_alarm(name, at)


def ring_due(now=None):
    """Ring the alarms whose time has come (each in one process only); returns the time of the
    next alarm still set, or None."""
    now = now or timezone.now()
    alarms = Alarm.objects.filter(name__in=list(_handlers), at__isnull=False)
    upcoming = None
    for name, at in alarms.values_list("name", "at"):
        if at > now:
            upcoming = min(upcoming or at, at)
        elif Alarm.objects.filter(name=name, at=at).update(at=None):
            _handlers[name]()
    return upcoming


def round_(now=None):
    """One round: every look, then the alarms; returns how long to sleep."""
    for name, look in _looks.items():
        try:
            look()
        except Exception:  # the database restarting, say: try again next round
            log.warning("the keeper's look %r failed", name, exc_info=True)
            connections.close_all()
    pause = EVERY * random.uniform(0.75, 1.25)
    try:
        upcoming = ring_due(now)
    except Exception:
        log.warning("the keeper could not ring its alarms", exc_info=True)
        connections.close_all()
        return pause
    if upcoming is not None:
        pause = min(pause, max((upcoming - timezone.now()) / timedelta(seconds=1), 0.0))
    return pause


class _State:
    started = False
    lock = threading.Lock()


state = _State()


def start(sender=None, **kwargs):
    """django-q2's post_spawn: a worker process of a cluster came up; start its keeper (once),
    which runs a first round at once. Never in a process that merely runs a task inline
    (`sync=True`, tests): django-q2 announces a worker there too."""
    if multiprocessing.parent_process() is None:
        return
    with state.lock:
        if state.started:
            return
        state.started = True
    threading.Thread(target=_run, name="keeper", daemon=True).start()


def _run():
    started_at, beaten = timezone.now(), None
    while True:
        if beaten is None or time.monotonic() - beaten >= BEAT_EVERY:
            try:
                workers.beat(started_at)
                beaten = time.monotonic()
            except Exception:
                log.warning("the keeper could not record its heartbeat", exc_info=True)
                connections.close_all()
        time.sleep(round_())
