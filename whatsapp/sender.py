"""The paced sender (I11): one message at a time per account, 1.5-2.5 s apart, FIFO per account.

The database is the queue. An account with work has `next_send_at` set (indexed): the earliest
time it may send again. A dispatcher (`Dispatcher`, run by the django-q task `run_dispatcher`)
loops: claim the accounts that are due (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite
serialises writers, so the same statements are a compare-and-swap there), mark each one's oldest
queued message `sending` and commit, hand the transport calls to a small thread pool, then record
the outcomes and each account's next send time, in batches. One dispatcher serves every account;
several (settings.SENDER_DISPATCHERS, on several machines) share the work through the claims.

A claim is a lease: `next_send_at` is pushed `SENDER_LEASE_SECONDS` ahead and `lease_token`
names the claimer. If the worker dies, the account simply becomes due again when the lease runs
out, and the next dispatcher finds its message still `sending`: the transport may or may not have
taken it, so it is failed with an error that says so and refunded, never re-sent silently.

Idle accounts have `next_send_at = NULL`; `wake(account_id)` (called when a message is queued)
sets it to now and makes sure a dispatcher is running. A schedule (`tick`, every minute) re-wakes
accounts whose wake was lost, fails messages that waited too long for a disconnected account and
restarts dispatchers; a dispatcher hands over to a successor before its task's time is up.
"""

import logging
import random
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, connections, transaction
from django.db.models import Exists, F, Min, OuterRef, Q
from django.utils import timezone

from credits.models import refund
from whatsapp.attachments import AttachmentError, fetch_attachment
from whatsapp.delivery import apply_early_acks, forget_early_acks
from whatsapp.models import Account, DispatcherSlot, Message
from whatsapp.signals import message_status_changed
from whatsapp.transports import TransportError

log = logging.getLogger(__name__)

PENDING = [Message.QUEUED, Message.SENDING]  # the order matches the message_pending index
GAP_MIN, GAP_MAX = 1.5, 2.5
# The planned gap stops this much short of GAP_MAX: a dispatcher starts a send a few
# milliseconds after it is due, and the measured gap must still stay inside the band.
GAP_SLACK = 0.1
# Accounts are claimed this early and their threads sleep until the exact due time, so a round
# of the dispatcher's loop (tens of milliseconds under load) does not make sends late.
LOOKAHEAD = 0.25
ROUND = 0.02  # the shortest pause between two rounds: sends that finish meanwhile are batched
POLL = 0.1  # the longest a dispatcher sleeps, so a wake is seen within it
MAX_ATTEMPTS = 5  # transport calls for one message before giving up on temporary errors
BACKOFF = 5  # seconds before the first retry, tripled for each one after
# A dispatcher task runs this long, then hands over to a successor it started HANDOVER_LEAD
# seconds earlier (both dispatch meanwhile; the claims keep them apart). Short, because a
# qcluster stopping cleanly waits for its running tasks.
DISPATCHER_LIFETIME = 15
HANDOVER_LEAD = 4

WAITING = "Waiting for the account to reconnect."
INTERRUPTED = (
    "Interrupted while being handed to WhatsApp (the sending worker stopped): it may or may not "
    "have been sent. It is not retried, so that it is never sent twice; its credits were refunded."
)


def draw_gap():
    return random.uniform(GAP_MIN, GAP_MAX - GAP_SLACK)


def pending_of_account():
    return Message.objects.filter(chat__account_id=OuterRef("pk"), status__in=PENDING)


class Clock:
    """Real time; tests pass a FakeClock."""

    def now(self):
        return timezone.now()

    def sleep(self, seconds):
        if seconds > 0:
            time.sleep(seconds)


class FakeClock(Clock):
    """Time that only moves when somebody sleeps: pacing tests run in milliseconds."""

    def __init__(self, start=None):
        self.current = start or timezone.now()
        self.lock = threading.Lock()

    def now(self):
        return self.current

    def sleep(self, seconds):
        with self.lock:
            self.current += timedelta(seconds=max(seconds, 0.001))


# --- Waking accounts and keeping dispatchers alive -------------------------------------------


def wake(account_id, now=None):
    """Make sure the account's queued messages will be sent: an idle account becomes due now (a
    busy one already has its next send time) and a dispatcher is started if none is running."""
    now = now or timezone.now()
    # One plain statement, not a queryset: it runs after every queued message, on the inbound
    # endpoint's hot path, where building the ORM's UPDATE would cost more than running it.
    with connection.cursor() as cursor:
        cursor.execute(*wake_statement(account_id, now))
        woken = cursor.rowcount
    # A busy account is a running dispatcher's already (or the every-minute tick's, if that one
    # died): checking the dispatcher slots again on every queued message would cost the inbound
    # endpoint two queries per request for nothing.
    if woken:
        ensure_dispatchers(now)


def wake_statement(account_id, now):
    """(sql, params) of `wake`'s statement, for a caller that sends it along with its own; when
    it changed a row, the caller must `ensure_dispatchers(now)`."""
    table = connection.ops.quote_name(Account._meta.db_table)
    sql = f"UPDATE {table} SET next_send_at = %s WHERE id = %s AND next_send_at IS NULL"
    return sql, [now, account_id]


def ensure_dispatchers(now=None):
    """Start a dispatcher task for every free slot; returns how many were started."""
    from django_q.tasks import async_task

    now = now or timezone.now()
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    if not DispatcherSlot.objects.filter(free).exists():
        if DispatcherSlot.objects.count() >= settings.SENDER_DISPATCHERS:
            return 0
    started = 0
    for number in range(settings.SENDER_DISPATCHERS):
        DispatcherSlot.objects.get_or_create(number=number)
        token = "start-" + secrets.token_hex(8)
        # Reserve the slot for the task about to be queued: a tick or wake meanwhile must not
        # queue another one. If the task is lost (a Redis broker restarted), the lease expires.
        grace = now + timedelta(seconds=45)
        if DispatcherSlot.objects.filter(free, number=number).update(
            token=token, lease_until=grace
        ):
            async_task(
                "whatsapp.sender.run_dispatcher",
                token,
                task_name=f"paced sender dispatcher {number}",
                timeout=DISPATCHER_LIFETIME + 75,
            )
            started += 1
    return started


def run_dispatcher(handover_from=""):
    """django-q task: take over a slot (free, or handed over by `handover_from`), dispatch for
    DISPATCHER_LIFETIME seconds, start a successor shortly before, then finish what is in flight."""
    token = "d-" + secrets.token_hex(8)
    slot = _take_slot(token, handover_from)
    if slot is None:
        return "no free dispatcher slot"
    dispatcher = Dispatcher(token=token)
    clock = dispatcher.clock
    start = time.monotonic()
    renew_at, successor = 0.0, False
    try:
        while (elapsed := time.monotonic() - start) < DISPATCHER_LIFETIME:
            if elapsed >= renew_at:
                if not _renew_slot(slot, token, clock.now()):
                    break  # a successor took over
                renew_at = elapsed + min(1, settings.SENDER_SLOT_LEASE_SECONDS / 4)
            if not successor and elapsed >= DISPATCHER_LIFETIME - HANDOVER_LEAD:
                successor = _start_successor(token)
            dispatcher.wait(dispatcher.step())
    finally:
        dispatcher.finish()
        DispatcherSlot.objects.filter(pk=slot, token=token).update(lease_until=clock.now())
    return f"dispatcher {token}: {dispatcher.sent} sent, {dispatcher.failed} failed"


def _take_slot(token, handover_from):
    now = timezone.now()
    lease = now + timedelta(seconds=settings.SENDER_SLOT_LEASE_SECONDS)
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    if handover_from:
        free |= Q(token=handover_from)
    # Only the configured slots: lowering SENDER_DISPATCHERS ends the extra slots' hand-over chain.
    free &= Q(number__lt=settings.SENDER_DISPATCHERS)
    for slot in DispatcherSlot.objects.filter(free).values_list("pk", flat=True):
        if DispatcherSlot.objects.filter(free, pk=slot).update(
            token=token, lease_until=lease, started_at=now
        ):
            return slot
    return None


def _renew_slot(slot, token, now):
    lease = now + timedelta(seconds=settings.SENDER_SLOT_LEASE_SECONDS)
    return DispatcherSlot.objects.filter(pk=slot, token=token).update(lease_until=lease) == 1


def _start_successor(token):
    from django_q.tasks import async_task

    async_task(
        "whatsapp.sender.run_dispatcher",
        token,
        task_name="paced sender dispatcher (successor)",
        timeout=DISPATCHER_LIFETIME + 75,
    )
    return True


def tick(now=None):
    """The one-minute schedule: recover lost wakes, expire messages stuck behind a disconnected
    account, keep the dispatchers running, forget early acks that never met their send."""
    now = now or timezone.now()
    lost = Account.objects.filter(next_send_at__isnull=True, status=Account.CONNECTED)
    rewoken = lost.filter(Exists(pending_of_account())).update(next_send_at=now)
    expired = expire_waiting(now)
    started = ensure_dispatchers(now)
    forgotten = forget_early_acks(now)
    return {
        "rewoken": rewoken,
        "expired": expired,
        "dispatchers_started": started,
        "early_acks_forgotten": forgotten,
    }


def expire_waiting(now):
    """Fail (and refund) messages that waited longer than allowed for their account."""
    hours = settings.SENDER_DISCONNECTED_HOURS
    old = Message.objects.filter(
        status=Message.QUEUED,
        chat__account__status=Account.DISCONNECTED,
        queued_at__lt=now - timedelta(hours=hours),
    ).select_related("chat__account__workspace")
    error = (
        f"The WhatsApp account stayed disconnected for more than {hours:g} hours; "
        "the message was not sent."
    )
    count = 0
    for message in old.iterator():
        with transaction.atomic():
            count += fail(message, error, now, expected=Message.QUEUED)
    return count


# --- Message transitions -----------------------------------------------------------------------


def change_status(message, status, expected, **fields):
    """Compare-and-swap `message` from `expected` to `status` and announce it; False if it had
    moved on (another dispatcher settled it)."""
    if not Message.objects.filter(pk=message.pk, status=expected).update(status=status, **fields):
        return False
    previous = message.status
    message.status = status
    for name, value in fields.items():
        setattr(message, name, value)
    message_status_changed.send(sender=Message, message=message, previous=previous)
    return True


def fail(message, error, now, expected=Message.SENDING):
    """Fail the message and refund its credits, exactly once. Call inside a transaction."""
    if not change_status(message, Message.FAILED, expected, error=error, failed_at=now):
        return False
    refund(message.chat.account.workspace, message.message_id, reason=f"Not sent: {error}"[:200])
    return True


# --- The dispatcher ----------------------------------------------------------------------------


@dataclass
class Job:
    message: Message
    due: datetime


@dataclass
class Outcome:
    job: Job
    at: datetime
    external_id: str = ""
    error: str = ""
    permanent: bool = False
    transport_called: bool = True
    attachment: object = None

    @property
    def ok(self):
        return not self.error


class Dispatcher:
    """Sends for every account, one dispatcher per process. `step()` does one round and returns
    how long it may sleep; `threads=0` runs sends inline (tests, `drain_now`)."""

    def __init__(self, clock=None, threads=None, token=None):
        self.clock = clock or Clock()
        self.token = token or "d-" + secrets.token_hex(8)
        threads = settings.SENDER_THREADS if threads is None else threads
        self.pool = ThreadPoolExecutor(threads, "sender") if threads else None
        self.capacity = threads or 100
        self.inflight = set()
        self.done = []
        self.sent = self.failed = 0

    def step(self):
        """Record finished sends, claim due accounts and start their sends."""
        self.settle()
        room = self.capacity - len(self.inflight)
        if room <= 0:
            return ROUND  # every thread is busy: wait for sends to finish
        for job in self.start(self.claim(room)):
            self.launch(job)
        self.settle()
        return self.idle_seconds()

    def launch(self, job):
        if self.pool is None:
            self.done.append(self.execute(job))
        else:
            self.inflight.add(self.pool.submit(self.execute, job))

    def wait(self, seconds):
        """Sleep until something is due, at least ROUND and at most POLL (wakes are seen)."""
        seconds = POLL if seconds is None else min(seconds, POLL)
        self.clock.sleep(max(seconds, ROUND))

    def finish(self):
        """Let in-flight sends complete and record them (a dispatcher stopping cleanly)."""
        if self.inflight:
            wait_futures(self.inflight)
        self.settle()
        if self.pool is not None:
            self.pool.shutdown()

    # Claiming ------------------------------------------------------------------------------

    def claim(self, limit):
        """Lease up to `limit` due accounts to this dispatcher: [(account_id, due), ...]."""
        now = self.clock.now()
        horizon = now + timedelta(seconds=LOOKAHEAD)
        lease = now + timedelta(seconds=settings.SENDER_LEASE_SECONDS)
        if not Account.objects.filter(next_send_at__lte=horizon).exists():
            return []  # a plain read: an idle dispatcher never takes SQLite's write lock
        with transaction.atomic():
            due = list(
                Account.objects.select_for_update(skip_locked=True, of=("self",), no_key=True)
                .filter(next_send_at__lte=horizon)
                .order_by("next_send_at")
                .values_list("pk", "next_send_at")[:limit]
            )
            if due:
                Account.objects.filter(pk__in=[pk for pk, _ in due]).update(
                    next_send_at=lease, lease_until=lease, lease_token=self.token
                )
        return due

    def start(self, claimed):
        """Mark each claimed account's oldest message `sending`; returns the jobs to run."""
        if not claimed:
            return []
        now = self.clock.now()
        due_of = dict(claimed)
        heads = self.heads(list(due_of))
        jobs = []
        with transaction.atomic():
            for account_id, due in due_of.items():
                job = self.check_one(account_id, heads.get(account_id), due, now)
                if job:
                    jobs.append(job)
            return self.mark_sending(jobs, now)

    def heads(self, account_ids):
        """The oldest queued-or-sending message of each account, in two queries."""
        ids = (
            Message.objects.filter(status__in=PENDING, chat__account_id__in=account_ids)
            .values("chat__account_id")
            .annotate(head=Min("pk"))
            .values_list("head", flat=True)
        )
        messages = Message.objects.filter(pk__in=list(ids)).select_related(
            "chat__account__workspace"
        )
        return {m.chat.account_id: m for m in messages}

    def mark_sending(self, jobs, now):
        """Move the jobs' messages from queued to sending in one statement, and announce it.
        Nobody else changes a queued message of a connected account that we hold."""
        messages = [job.message for job in jobs]
        updated = Message.objects.filter(
            pk__in=[m.pk for m in messages], status=Message.QUEUED
        ).update(
            status=Message.SENDING,
            sending_at=now,
            send_attempts=F("send_attempts") + 1,
            retry_at=None,
        )
        assert updated == len(messages), "a held account's queued message changed under us"
        for message in messages:
            message.status, message.sending_at, message.retry_at = Message.SENDING, now, None
            message.send_attempts += 1
            message_status_changed.send(sender=Message, message=message, previous=Message.QUEUED)
        return jobs

    def check_one(self, account_id, message, due, now):
        """A job for the account's head message, or None after dealing with what is not one."""
        if message is None:
            return self.release_idle(account_id, due, now)
        account = message.chat.account
        if message.status == Message.SENDING:
            # Still `sending` although our claim proves its dispatcher's lease ran out: that
            # worker died somewhere around the transport call. Never guess: fail and refund.
            self.failed += fail(message, INTERRUPTED, now)
            return self.release(account_id, next_send_at=max(due, now))
        if not account.is_connected:
            Message.objects.filter(
                chat__account_id=account_id, status=Message.QUEUED, error=""
            ).update(error=WAITING)
            return self.release(account_id, next_send_at=None)
        return Job(message, due)

    def release(self, account_id, next_send_at):
        Account.objects.filter(pk=account_id, lease_token=self.token).update(
            next_send_at=next_send_at, lease_until=None, lease_token=""
        )

    def release_idle(self, account_id, due, now):
        """Nothing to send: the account goes idle once its gap is over. A message queued since
        our query keeps it due (its wake saw a non-null next_send_at and did nothing)."""
        if due > now:
            return self.release(account_id, next_send_at=due)
        mine = Account.objects.filter(pk=account_id, lease_token=self.token)
        if not mine.exclude(Exists(pending_of_account())).update(
            next_send_at=None, lease_until=None, lease_token=""
        ):
            self.release(account_id, next_send_at=now)

    # Sending (in a pool thread) --------------------------------------------------------------

    def execute(self, job):
        """Fetch the attachment, wait for the exact due time, call the transport. No database
        writes here: the outcome is recorded by `settle` in the dispatcher's thread."""
        message = job.message
        try:
            attachment = None
            if message.attachment_url:
                attachment = fetch_attachment(message.attachment_url, message.attachment_name)
            self.clock.sleep((job.due - self.clock.now()).total_seconds())
            external_id = message.chat.account.get_transport().send(message, attachment)
            return Outcome(job, self.clock.now(), external_id=external_id, attachment=attachment)
        except AttachmentError as exc:
            return Outcome(
                job, self.clock.now(), error=str(exc), permanent=True, transport_called=False
            )
        except TransportError as exc:
            return Outcome(job, self.clock.now(), error=exc.message, permanent=exc.permanent)
        except Exception as exc:  # a transport bug: treat like a temporary error, keep going
            log.exception("transport failed on %s", message.message_id)
            return Outcome(job, self.clock.now(), error=f"Unexpected error: {exc}")
        finally:
            if self.pool is not None:
                connections.close_all()

    # Settling ------------------------------------------------------------------------------

    def settle(self):
        """Record finished sends and each account's next send time, in one transaction."""
        finished = [f for f in self.inflight if f.done()]
        self.inflight.difference_update(finished)
        outcomes = self.done + [f.result() for f in finished]
        self.done = []
        if not outcomes:
            return
        with transaction.atomic():
            ids = [o.job.message.chat.account_id for o in outcomes]
            mine = set(
                Account.objects.select_for_update(of=("self",), no_key=True)
                .filter(pk__in=ids, lease_token=self.token)
                .values_list("pk", flat=True)
            )
            # If our lease ran out, another dispatcher has taken over: its outcome is not ours.
            outcomes = [o for o in outcomes if o.job.message.chat.account_id in mine]
            # Refunds lock balances: by workspace, so two dispatchers never wait on each other
            # (credits/models.py, lock order).
            outcomes.sort(key=lambda o: (o.job.message.chat.account.workspace_id, o.job.due))
            sent = [o for o in outcomes if o.ok]
            self.record_sent(sent)
            released = [(self.record(o), o.job.message.chat.account_id) for o in outcomes]
            update_many(Account, ["next_send_at"], released, "lease_until = NULL, lease_token = ''")

    def record_sent(self, outcomes):
        """Store the sent messages in one statement, then announce each."""
        messages = []
        for outcome in outcomes:
            message = outcome.job.message
            message.status, message.sent_at, message.error = Message.SENT, outcome.at, ""
            message.external_id = outcome.external_id or message.external_id
            if outcome.attachment is not None:
                message.attachment_mime = outcome.attachment.mime[:100]
                message.attachment_size = outcome.attachment.size
            messages.append(message)
        fields = ["status", "sent_at", "error", "attachment_mime", "attachment_size"]
        rows = [([getattr(m, f) for f in fields], m.pk) for m in messages]
        update_many(Message, fields, rows)
        # Only an id the transport answered with: a transport event (the echo of the message)
        # may have recorded the provider's id already, and an empty answer must not erase it.
        ids = [([o.external_id], o.job.message.pk) for o in outcomes if o.external_id]
        update_many(Message, ["external_id"], ids)
        for message in messages:
            message_status_changed.send(sender=Message, message=message, previous=Message.SENDING)
        # Acks that arrived before these sends were recorded (WAHA's "delivered" can beat its own
        # answer to us): applied now, after `sent`, so no status is skipped or lost.
        apply_early_acks([m.pk for m in messages])
        self.sent += len(messages)

    def record(self, outcome):
        """Store a failed outcome (sent ones are stored by record_sent); returns when the
        account may send next."""
        message, at = outcome.job.message, outcome.at
        if not outcome.transport_called:
            nxt = max(outcome.job.due, at)  # nothing left the account: the old gap still holds
        else:
            nxt = at + timedelta(seconds=draw_gap())
        if outcome.ok:
            pass
        elif outcome.permanent or message.send_attempts >= MAX_ATTEMPTS:
            self.give_up(message, outcome)
        else:
            nxt = max(nxt, self.retry_later(message, outcome))
        return [nxt]

    def give_up(self, message, outcome):
        error = outcome.error
        if not outcome.permanent:
            error = f"Gave up after {message.send_attempts} attempts: {error}"
        self.failed += fail(message, error, outcome.at)

    def retry_later(self, message, outcome):
        """Back to the head of its account's queue until the backoff is over; returns when."""
        delay = BACKOFF * 3 ** (message.send_attempts - 1)
        retry_at = outcome.at + timedelta(seconds=delay)
        error = (
            f"Temporary error (attempt {message.send_attempts} of {MAX_ATTEMPTS}), "
            f"retrying in {delay} s: {outcome.error}"
        )
        change_status(message, Message.QUEUED, Message.SENDING, error=error, retry_at=retry_at)
        return retry_at

    def idle_seconds(self):
        """Seconds until the next account is due to be claimed; None when none is."""
        if self.done:
            return 0
        nxt = (
            Account.objects.filter(next_send_at__isnull=False)
            .order_by("next_send_at")
            .values_list("next_send_at", flat=True)
            .first()
        )
        if nxt is None:
            return None
        return max((nxt - self.clock.now()).total_seconds() - LOOKAHEAD, 0)


def update_many(model, fields, rows, also=""):
    """UPDATE rows of `model` by primary key, each with its own values: rows are
    ([value per field], pk). One executemany: Django's bulk_update builds a CASE per row and
    per field, which costs more CPU than the whole send at 500 sends a second."""
    if not rows:
        return
    meta = model._meta
    columns = [meta.get_field(name) for name in fields]
    assignments = ", ".join(f"{connection.ops.quote_name(f.column)} = %s" for f in columns)
    if also:
        assignments += ", " + also
    sql = f"UPDATE {connection.ops.quote_name(meta.db_table)} SET {assignments} WHERE id = %s"
    params = [
        [f.get_db_prep_value(v, connection) for f, v in zip(columns, values, strict=True)] + [pk]
        for values, pk in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def drain_now(clock=None, max_rounds=100000):
    """Send everything queued, inline, on a fake clock unless given one: for tests and the shell.
    Returns the dispatcher (its `sent` and `failed` counts)."""
    dispatcher = Dispatcher(clock=clock or FakeClock(), threads=0)
    for _ in range(max_rounds):
        pause = dispatcher.step()
        if pause is None:
            break
        dispatcher.clock.sleep(pause)
    return dispatcher
