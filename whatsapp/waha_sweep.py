"""The reconciliation sweep (SPEC A4): WAHA's own issue trackers show events that never fire, so a
django-q2 schedule (every five minutes, created by a migration) reads back, per connected WAHA
account, the recent messages of its recently active chats, and stores every one no event brought -
exactly once, and through the same `store_once` as events, so the outbound webhooks report it.

One run at a time: a run holds the lease "waha-sweep" (timelines.workers) for longer than it can
last, so two runs never overlap. One run is bounded: the accounts swept longest ago first, at most
WAHA_SWEEP_ACCOUNTS of them and for at most WAHA_SWEEP_SECONDS; per account WAHA's
WAHA_SWEEP_CHATS most recently active chats, and per chat its latest WAHA_SWEEP_MESSAGES messages
of the last WAHA_SWEEP_HOURS. Per account that is 1 + chats requests to WAHA and, when nothing
was missed, three queries (its turn, the account's known ids among what WAHA listed, the
counters); each recovered message costs what an event costs. A WAHA that fails midway keeps what
was read before it failed, and an account's turn is taken before it is read, so one that hangs
goes to the back of the line.
"""

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from timelines import workers
from timelines.metrics import SWEEP_RECOVERED
from whatsapp.governor import waha as governor_waha
from whatsapp.jids import InvalidJid
from whatsapp.media import received
from whatsapp.models import Account, Message, WahaConnection
from whatsapp.phones import InvalidPhone
from whatsapp.transports.waha import WahaClient, WahaError, message_key, waha_chat_id
from whatsapp.waha_events import BadEvent, Incoming, resolver, store_once
from whatsapp.waha_server import Server

log = logging.getLogger(__name__)

LEASE = "waha-sweep"


def lease_seconds():
    """A run ends within its budget plus one WAHA call begun just before it; the lease outlasts
    that with room to spare."""
    return settings.WAHA_SWEEP_SECONDS + 2 * settings.WAHA_TIMEOUT + 30


def sweep(now=None):
    """One run of the schedule; {connection id: messages recovered} for the accounts swept
    ({} when another run still holds the lease)."""
    now = now or timezone.now()
    token = workers.take(LEASE, lease_seconds())
    if token is None:
        return {}
    try:
        return sweep_accounts(now, time.monotonic() + settings.WAHA_SWEEP_SECONDS)
    finally:
        workers.release(LEASE, token)


def sweep_accounts(now, deadline):
    connections = (
        WahaConnection.objects.filter(account__status=Account.CONNECTED, account__transport="waha")
        .select_related("account")
        .order_by(F("swept_at").asc(nulls_first=True), "pk")[: settings.WAHA_SWEEP_ACCOUNTS]
    )
    recovered = {}
    for connection in connections:
        if time.monotonic() > deadline:
            break  # the next run starts with the accounts this one did not reach
        WahaConnection.objects.filter(pk=connection.pk).update(swept_at=now)
        recovered[connection.pk] = sweep_account(connection, now, deadline)
        governor_waha.watch_capping(connection, now)  # G3: pause before WhatsApp answers 475
    return recovered


def sweep_account(connection, now, deadline=float("inf")):
    """Read the account's recent messages back from WAHA and store the missing ones; how many."""
    client = WahaClient(connection.base_url, connection.api_key, connection.session)
    since = now - timedelta(hours=settings.WAHA_SWEEP_HOURS)
    listed = []
    try:
        for chat in active_chats(client, connection.account, since):
            if time.monotonic() > deadline:
                break
            listed += client.chat_messages(chat, settings.WAHA_SWEEP_MESSAGES, since.timestamp())
    except WahaError as exc:
        log.warning("WAHA sweep of connection %s could not read back: %s", connection.pk, exc)
    count = store_missing(connection, listed) if listed else 0
    received.retry(connection.account)  # its files still to fetch (SPEC M1)
    WahaConnection.objects.filter(pk=connection.pk).update(
        last_recovered=count, recovered=F("recovered") + count
    )
    if count:
        SWEEP_RECOVERED.inc(count)
        log.info("WAHA sweep recovered %s message(s) for connection %s", count, connection.pk)
    return count


def active_chats(client, account, since):
    """WAHA's most recently active chats (ours, should WAHA not list its chats)."""
    limit = settings.WAHA_SWEEP_CHATS
    try:
        return client.recent_chats(limit)
    except WahaError as exc:  # e.g. WEBJS before 2026.7.1: "Cannot GET /api/{session}/chats"
        log.info("WAHA lists no chats (%s); sweeping the account's own recent chats", exc)
    recent = (
        Message.objects.filter(chat__account=account, timestamp__gte=since)
        .order_by("-timestamp")
        .values_list("chat__jid", flat=True)
    )
    chats = list(dict.fromkeys(recent[: limit * 20]))[:limit]
    return [waha_chat_id(jid) for jid in chats]


def store_missing(connection, listed):
    """Store, oldest first, what WAHA listed and the account does not know; how many."""
    account = connection.account
    by_key = {message_key(payload.get("id"))[:200]: payload for payload in listed}
    by_key.pop("", None)
    known = Message.objects.filter(chat__account=account, external_id__in=list(by_key))
    for key in known.values_list("external_id", flat=True):
        by_key.pop(key, None)
    engine, resolve = Server.from_answer(connection.server).engine, resolver(connection)
    missing = []
    for payload in by_key.values():
        try:
            missing.append(Incoming(payload, engine, resolve))
        except (BadEvent, InvalidJid, InvalidPhone) as exc:
            log.info("WAHA message %r not stored by the sweep: %s", payload.get("id"), exc)
    stored = 0
    for incoming in sorted(missing, key=lambda incoming: incoming.timestamp):
        with transaction.atomic():
            stored += store_once(account, incoming) == "stored"
    return stored
