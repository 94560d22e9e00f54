"""Leases: how the loops that must run once at a time (the paced sender's dispatchers, the
outbound drains, the WAHA sweep) take turns, on any number of processes and machines.

A lease is a named row (timelines.models.Lease). Taking it is a compare-and-swap on its expiry,
so it works alike on SQLite and PostgreSQL; its holder renews it while it runs and releases it
when done, and a holder that dies simply lets it expire. The token a holder wrote is its fencing
token: a side effect that must not happen twice is made only after checking that the token still
holds (`renew` answers that, and a loop stops when it answers no).

`start_once` queues a loop as a django-q2 task only when its lease is free: however many callers
ask at once (every queued message, every stored event), one task runs. The task is called with the
lease's name and the token it was started with, and begins with `take(name, ..., handover_from=
token)`: it takes over the reservation made for it, and a loop that hands over to a successor
passes its own token the same way.
"""

import os
import secrets
import socket
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from timelines.models import Heartbeat, Lease


def holder():
    """Who holds a lease taken by this process: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _free(now, handover_from=""):
    free = Q(until__isnull=True) | Q(until__lt=now)
    return free | Q(token=handover_from) if handover_from else free


def take(name, seconds, handover_from="", now=None):
    """Take the lease `name` for `seconds` if it is free, or held by `handover_from` (which then
    loses it); returns the new token, or None when someone else holds it."""
    now = now or timezone.now()
    token = secrets.token_hex(8)
    fields = {
        "token": token,
        "until": now + timedelta(seconds=seconds),
        "holder": holder(),
        "taken_at": now,
        "renewed_at": now,
    }
    if Lease.objects.filter(_free(now, handover_from), name=name).update(**fields):
        return token
    if Lease.objects.filter(name=name).exists():
        return None
    try:  # the first time this lease is ever taken
        with transaction.atomic():
            Lease.objects.create(name=name, **fields)
    except IntegrityError:  # someone else created it first, and holds it
        return None
    return token


def renew(name, token, seconds, now=None):
    """Keep holding the lease for `seconds` more; False when `token` no longer holds it (it
    expired and was taken, or was handed over): the caller must stop."""
    now = now or timezone.now()
    until = now + timedelta(seconds=seconds)
    return bool(Lease.objects.filter(name=name, token=token).update(until=until, renewed_at=now))


def release(name, token):
    """Give the lease up (only if `token` still holds it)."""
    Lease.objects.filter(name=name, token=token).update(until=None, token="", holder="")


def held(names, now=None):
    """The names among `names` whose leases are held now."""
    now = now or timezone.now()
    return set(Lease.objects.filter(name__in=names, until__gte=now).values_list("name", flat=True))


def start_once(name, func, *args, seconds, task_name="", timeout=None):
    """Queue the django-q2 task `func(name, token, *args)` unless the lease `name` is held;
    True when it was queued. The lease is reserved for `seconds` meanwhile, so that nobody else
    queues one; if the task is lost (a broker restarted), the reservation expires."""
    token = take(name, seconds)
    if token is None:
        return False
    from django_q.tasks import async_task

    options = {"task_name": task_name or name}
    if timeout is not None:
        options["timeout"] = timeout
    async_task(func, name, token, *args, **options)
    return True


HEARTBEAT_KEPT = timedelta(days=1)  # how long a stopped process stays listed


def beat(started_at, now=None):
    """Record that this process is alive (a qcluster worker's keeper calls it); rows of
    processes that stopped beating a day ago are dropped on the way."""
    now = now or timezone.now()
    mine = holder()
    if not Heartbeat.objects.filter(holder=mine).update(beat_at=now):
        Heartbeat.objects.filter(beat_at__lt=now - HEARTBEAT_KEPT).delete()
        Heartbeat.objects.update_or_create(
            holder=mine, defaults={"started_at": started_at, "beat_at": now}
        )


def newest_beat():
    """When a worker process last said it was alive (None: never)."""
    return Heartbeat.objects.values_list("beat_at", flat=True).order_by("-beat_at").first()
