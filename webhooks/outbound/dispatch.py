"""Making deliveries (O5–O7): claim due rows, POST them from a small thread pool, record every
attempt and decide what happens next, all state in the database (no django-q2 retries).

Claiming is `SELECT … FOR UPDATE SKIP LOCKED` on PostgreSQL plus a compare-and-swap on
`claimed_until` that also holds on SQLite, so several drains (several machines) can share the
queue. A chat's deliveries are handed out one at a time, oldest first, so per-message events keep
their order. Threads only do HTTP; all database work stays on the drain's own connection.
"""

import email.utils
import random
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from timelines import keeper, safehttp, workers
from timelines.metrics import OUTBOUND_ATTEMPTS, after_commit
from webhooks.outbound import signing
from webhooks.outbound.models import Attempt, Delivery

USER_AGENT = "Timelines-Webhooks/1.0 (+https://www.standardwebhooks.com/)"
# Delays after the 1st, 2nd, ... failed attempt; after the last one the delivery is given up.
RETRY_DELAYS = [10, 60, 5 * 60, 30 * 60, 2 * 3600]
MAX_RETRY_AFTER = 24 * 3600
MAX_RESPONSE_BYTES = 1024 * 1024
THREADS = 16
# A batch is one round of the pool and two batches overlap (deliver_due), so even against
# receivers that all time out (10 s to connect plus 10 s to answer) what is in flight ends within
# ~40 s; the drain claims no new batch after its budget, so a drain task stays well below
# Q_CLUSTER's timeout (90 s) and is never killed with attempts made but not recorded (which would
# also keep a dead receiver from being disabled).
BATCH = THREADS
DRAIN_BUDGET = 30  # seconds
LEASE = timedelta(seconds=120)  # a claimed delivery's, and a drain's
LEASE_NAME = "outbound-drain"
ALARM = "outbound-next-retry"  # timelines.keeper rings it: wake() at the next retry's time
STATISTICS_MAX_AGE = timedelta(minutes=1)


def request_timeout():
    """O5's 10 seconds; a setting so tests of a slow receiver need not wait that long."""
    return settings.OUTBOUND_WEBHOOK_TIMEOUT


@dataclass
class Result:
    delivery: Delivery
    url: str
    request_headers: dict
    at: datetime = field(default_factory=timezone.now)
    status: int | None = None
    response_headers: dict = field(default_factory=dict)
    response_body: str = ""
    duration_ms: int = 0
    error: str = ""
    retry_after: float | None = None
    finished: float = 0.0  # monotonic; a batch's outcomes count in the order they happened

    @property
    def ok(self):
        return not self.error and self.status is not None and 200 <= self.status < 300

    def attempt(self):
        return Attempt(
            webhook_id=self.delivery.webhook_id,
            endpoint_id=self.delivery.endpoint_id,
            delivery=self.delivery,
            number=self.delivery.attempts + 1,
            at=self.at,
            url=self.url,
            request_headers=self.request_headers,
            # The body is the delivery's, the same on every attempt: not stored twice.
            request_body="",
            status=self.status,
            response_headers=self.response_headers,
            response_body=self.response_body,
            duration_ms=self.duration_ms,
            error=self.error,
            succeeded=self.ok,
        )


# -- claiming ----


def claim(limit=BATCH, now=None):
    """Take up to `limit` due deliveries for this drain; returns them with their webhook."""
    now = now or timezone.now()
    token = secrets.token_hex(8)
    with transaction.atomic():
        due = Delivery.objects.due(now).select_for_update(
            skip_locked=True, of=("self",), no_key=True
        )
        ids = list(due.order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:limit])
        if not ids:
            return []
        # By id alone (the rows just read are still pending: locked on PostgreSQL, SQLite's
        # writer lock held since BEGIN): with `state` in the filter, SQLite would walk the due
        # index through every pending row instead of fetching sixteen by id.
        free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
        Delivery.objects.filter(free, pk__in=ids).update(
            claimed_until=now + LEASE, claim_token=token
        )
    claimed = Delivery.objects.filter(pk__in=ids, claim_token=token)
    claimed = claimed.select_related("webhook", "endpoint")
    claimed = claimed.order_by("pk")
    return list(claimed)


class _Analysed:
    at = None  # when this process last analysed the deliveries table


_analysed = _Analysed()


def analyse_a_new_backlog(now=None):
    """On PostgreSQL, refresh the table's statistics when a drain meets a backlog and they are
    more than a minute old. A queue's statistics are always stale: in the everyday state almost
    every delivery has succeeded, so when a burst of deliveries arrives (or a receiver comes back
    after hours) the planner still believes a handful are pending. It would then fetch every
    pending row, check each one's chat order against all the others and sort them to keep a
    batch, once per batch: the drain would slow down with the square of its backlog. Knowing the
    backlog, it reads the due index in order and stops at the batch. Autovacuum catches up on its
    own, but minutes later; a drain meets the backlog at once. ANALYZE reads a sample of fixed
    size, whatever the table's size, and each process runs it at most once a minute."""
    connection = transaction.get_connection()
    if connection.vendor != "postgresql":
        return False
    now = now or timezone.now()
    if _analysed.at and now - _analysed.at < STATISTICS_MAX_AGE:
        return False
    _analysed.at = now
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {connection.ops.quote_name(Delivery._meta.db_table)}")
    return True


# -- posting (threads: no database here) ----


class Sessions(threading.local):
    """One keep-alive session per posting thread (requests' sessions are not thread-safe)."""

    def __init__(self):
        self.session = safehttp.new_session()


def post(delivery, sessions=None):
    target = delivery.target  # the outbound webhook or a v2 endpoint: delivered alike
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **signing.headers(target.secret, delivery.event_id, int(time.time()), delivery.body),
    }
    result = Result(delivery=delivery, url=target.url, request_headers=headers)
    started = time.monotonic()
    try:
        response = safehttp.request(
            "POST",
            target.url,
            headers=headers,
            data=delivery.body.encode(),
            timeout=request_timeout(),
            max_bytes=MAX_RESPONSE_BYTES,
            follow_redirects=False,
            session=sessions.session if sessions else None,
        )
    except safehttp.FetchError as exc:
        result.error = str(exc)
    else:
        _read_response(result, response)
    result.finished = time.monotonic()
    result.duration_ms = int((result.finished - started) * 1000)
    return result


def _read_response(result, response):
    result.status = response.status
    result.response_headers = response.headers
    result.response_body = response.text(limit=Attempt.BODY_LIMIT)
    if response.ok:
        return
    result.retry_after = parse_retry_after(response.headers.get("retry-after", ""))
    if 300 <= response.status < 400:
        where = response.headers.get("location", "somewhere else")
        result.error = (
            f"the receiver answered {response.status} (redirect to {where}); webhooks are not "
            "redirected: use the final URL"
        )
    else:
        result.error = f"the receiver answered {response.status}, not 2xx"


def parse_retry_after(value):
    """Seconds from a Retry-After header (seconds or an HTTP date); None when absent or bad."""
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (moment - timezone.now()).total_seconds())


# -- recording ----


def retry_delay(failed_attempts, retry_after=None):
    """Growing delays with ±20 % jitter (so a receiver coming back is not hit by everyone at once),
    never sooner than the receiver asked with Retry-After."""
    base = RETRY_DELAYS[failed_attempts - 1] * random.uniform(0.8, 1.2)
    if retry_after:
        base = max(base, min(retry_after, MAX_RETRY_AFTER))
    return timedelta(seconds=base)


def settle(delivery, result, now):
    delivery.attempts += 1
    delivery.last_status = result.status
    delivery.last_error = result.error
    delivery.claimed_until, delivery.claim_token = None, ""
    if result.ok:
        delivery.state, delivery.finished_at = Delivery.SUCCEEDED, now
    elif delivery.attempts > len(RETRY_DELAYS):
        delivery.state, delivery.finished_at = Delivery.FAILED, now
    else:
        delivery.next_attempt_at = now + retry_delay(delivery.attempts, result.retry_after)


def record(results):
    """Log the attempts, move each delivery on, and count successes and failures per target."""
    now = timezone.now()
    with transaction.atomic():
        Attempt.objects.bulk_create([r.attempt() for r in results])
        for result in results:
            settle(result.delivery, result, now)
        save_settled([r.delivery for r in results])
        outcomes = {}
        for result in sorted(results, key=lambda r: r.finished):
            target = result.delivery.target
            key = (type(target), target.pk)
            outcomes.setdefault(key, (target, []))[1].append(result.ok)
        count_outcomes(outcomes.values())
        after_commit(lambda: count_attempts(results))


def count_attempts(results):
    for result in results:
        outcome = "succeeded" if result.ok else "failed"
        OUTBOUND_ATTEMPTS.labels(result.delivery.kind, outcome).inc()


def count_outcomes(outcomes):
    """Fold each target's results into its failure streak. Targets whose last result was a
    success (the everyday case) are reset together, one UPDATE per kind of target, so a batch
    fanned out to ten endpoints costs one query here, not ten."""
    healthy = {}
    for target, oks in outcomes:
        if oks[-1]:
            healthy.setdefault(type(target), []).append(target.pk)
        else:
            target.count_outcomes(oks)
    for model, pks in healthy.items():
        model.objects.filter(pk__in=pks).exclude(consecutive_failures=0).update(
            consecutive_failures=0
        )


def save_settled(deliveries):
    """One UPDATE per group of deliveries that ended alike (a batch of successes is one query);
    only those to retry, each with its own jittered time, are saved one by one."""
    finished = {}
    for delivery in deliveries:
        if delivery.state == Delivery.PENDING:
            _save_retry(delivery)
        else:
            key = (delivery.state, delivery.last_status, delivery.last_error, delivery.finished_at)
            finished.setdefault(key, []).append(delivery.pk)
    for (state, status, error, at), pks in finished.items():
        Delivery.objects.filter(pk__in=pks).update(
            state=state,
            last_status=status,
            last_error=error,
            finished_at=at,
            attempts=F("attempts") + 1,
            claimed_until=None,
            claim_token="",
        )


def _save_retry(delivery):
    Delivery.objects.filter(pk=delivery.pk).update(
        attempts=delivery.attempts,
        last_status=delivery.last_status,
        last_error=delivery.last_error,
        next_attempt_at=delivery.next_attempt_at,
        claimed_until=None,
        claim_token="",
    )


# -- draining ----


def deliver_due(budget=DRAIN_BUDGET):
    """Deliver what is due, batch after batch, until nothing is or the budget is spent; returns
    the number of attempts made.

    Two batches overlap: the next batch is claimed and its requests are on their way while the
    previous batch's answers are recorded, so the database work hides behind the network's. A
    chat's next delivery is never in the next batch while its previous one is in flight (the
    claimed one still holds the chat), so per-chat order is kept."""
    started, made = time.monotonic(), 0
    sessions = Sessions()
    in_flight = []
    with ThreadPoolExecutor(THREADS, thread_name_prefix="outbound") as pool:
        while True:
            batch = claim() if time.monotonic() - started < budget else []
            if not made and not in_flight and len(batch) == BATCH:
                analyse_a_new_backlog()
                call_for_help()
            submitted = [pool.submit(post, delivery, sessions) for delivery in batch]
            if in_flight:
                record([future.result() for future in in_flight])
                made += len(in_flight)
            elif not submitted:
                break
            in_flight = submitted
    return made


def wake():
    """Make sure due deliveries will be made soon: one drain task, however many callers."""
    _start_drain(_lease_names()[:1])


def call_for_help():
    """A drain that finds a full batch waiting starts one more, while fewer than
    OUTBOUND_DRAINS run: a backlog is drained by several processes (several cores, several
    machines), a trickle by one. The claims keep them apart and each chat in order."""
    _start_drain(_lease_names())


def _start_drain(names):
    for name in names:
        if workers.start_once(
            name, "webhooks.outbound.dispatch.drain", seconds=LEASE.total_seconds()
        ):
            return


def redeliver(delivery):
    """The owner's redelivery (the log, the admin): a copy of `delivery` due now, and a drain
    woken once it commits; returns the copy."""
    with transaction.atomic():
        copy = delivery.redeliver()
        wake_on_commit()
    return copy


def wake_on_commit():
    """wake() once the current transaction commits, registered once however many deliveries the
    transaction makes (a bulk import would otherwise take the lease once per message)."""
    connection = transaction.get_connection()
    if connection.in_atomic_block and any(item[1] is wake for item in connection.run_on_commit):
        return
    transaction.on_commit(wake)


def drain(name=LEASE_NAME, reserved=""):
    """The django-q2 task (started by `workers.start_once`): take the lease reserved for it,
    drain, hand the lease back, and start again if work arrived while the lease was held (its
    wake() found the lease taken and did nothing)."""
    if name not in _lease_names():
        return "no such drain"  # lowered OUTBOUND_DRAINS while it was queued
    token = workers.take(name, LEASE.total_seconds(), handover_from=reserved)
    if token is None:
        return "another drain holds the lease"
    try:
        deliver_due()
    finally:
        workers.release(name, token)
    now = timezone.now()
    if Delivery.objects.due(now).exists():
        wake()
    else:
        set_retry_alarm(now)


def set_retry_alarm(now):
    """Nothing is due: have the keeper wake a drain when the next retry is, so it goes out at its
    time rather than at the next one-minute tick (a receiver's two-second blip would otherwise
    cost every message a minute). One query, when a drain runs out of work."""
    upcoming = Delivery.objects.filter(state=Delivery.PENDING, next_attempt_at__gt=now).filter(
        Q(webhook__enabled=True) | Q(endpoint__enabled=True)
    )
    at = upcoming.order_by("next_attempt_at").values_list("next_attempt_at", flat=True).first()
    if at is not None:
        keeper.set_alarm(ALARM, at)


def _lease_names():
    """One lease per drain that may run at once; the first is the one wake() takes."""
    return [LEASE_NAME] + [f"{LEASE_NAME}-{n}" for n in range(2, settings.OUTBOUND_DRAINS + 1)]
