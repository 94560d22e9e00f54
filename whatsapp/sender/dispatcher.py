"""The dispatcher: one loop that sends for every account (whatsapp.sender's docstring tells how).

Each round (`step`): record the sends that finished, renew the holds of those still running,
claim the accounts that are due, mark each one's oldest queued message `sending`, and hand the
sends to a thread pool. Database work stays in the dispatcher's thread; the threads only send.
"""

import logging
import secrets
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from datetime import timedelta

from django.conf import settings
from django.db import connections, transaction

from whatsapp.governor import screening
from whatsapp.governor.policy import account_hold
from whatsapp.models import Message
from whatsapp.sender import holds, scheduled
from whatsapp.sender.clock import Clock, FakeClock
from whatsapp.sender.outcomes import INTERRUPTED, fail, next_send, record_failure, record_sent
from whatsapp.sender.sending import EXPIRED, Job, execute, longest_send
from whatsapp.status import move

log = logging.getLogger(__name__)

# Accounts are claimed this early and their threads sleep until the exact due time, so a round
# of the loop (tens of milliseconds under load) does not make sends late.
LOOKAHEAD = timedelta(seconds=0.25)
# A round every POLL seconds: a message queued for an idle account is seen within it, and the sends
# that finished meanwhile are settled in one batch (the cost of the database and of the ORM is per
# statement, so fewer, larger batches cost less per send; the accounts claimed LOOKAHEAD early
# keep every send on time).
POLL = 0.1
WAITING = "Waiting for the account to reconnect."


class Dispatcher:
    """Sends for every account. `step()` does one round and returns how long it may sleep;
    `threads=0` runs sends inline (tests, `drain_now`). `token` is the fencing token its holds
    carry: its lease's (timelines.workers)."""

    def __init__(self, clock=None, threads=None, token=None):
        self.clock = clock or Clock()
        self.token = token or "d-" + secrets.token_hex(8)
        threads = settings.SENDER_THREADS if threads is None else threads
        self.pool = ThreadPoolExecutor(threads, "sender") if threads else None
        self.capacity = threads or 100
        self.inflight = {}  # future -> job
        self.done = []
        self.sent = self.failed = 0

    def step(self):
        """Record finished sends, keep the running ones held, claim due accounts, start sends."""
        self.settle()
        self.renew()
        scheduled.release_due(self.clock.now())
        room = self.capacity - len(self.inflight)
        if room <= 0:
            return POLL  # every thread is busy: wait for sends to finish
        for job in self.claim(room):
            self.launch(job)
        self.settle()  # what ran inline (threads=0); threads are still waiting for the due time
        return self.idle_seconds()

    def launch(self, job):
        if self.pool is None:
            self.done.append(execute(job, self.clock))
        else:
            self.inflight[self.pool.submit(self.run, job)] = job

    def run(self, job):
        try:
            return execute(job, self.clock)
        finally:
            connections.close_all()  # a transport that read the database, in this thread

    def wait(self):
        self.clock.sleep(POLL)

    def finish(self):
        """Let the sends in flight complete, keeping their accounts held, and record them."""
        while self.inflight:
            wait_futures(list(self.inflight), timeout=POLL)
            self.settle()
            self.renew()
        self.settle()
        if self.pool is not None:
            self.pool.shutdown()

    # Claiming ------------------------------------------------------------------------------

    def claim(self, limit):
        """Hold up to `limit` due accounts and mark each one's oldest message `sending`, in one
        transaction; returns the jobs to run."""
        now = self.clock.now()
        if not holds.any_due(now + LOOKAHEAD):
            return []  # a plain read: an idle dispatcher never takes SQLite's write lock
        with transaction.atomic():
            claimed = holds.claim(self.token, limit, now, now + LOOKAHEAD)
            if not claimed:
                return []
            heads = holds.heads([pk for pk, _ in claimed])
            jobs = []
            for account_id, due in claimed:
                message, pending = heads.get(account_id, (None, 0))
                job = self.check(account_id, message, due, now)
                if job:
                    job.held_until, job.claimed_at, job.more = now + holds.hold(), now, pending > 1
                    jobs.append(job)
            jobs, held = screening.screen(jobs, now)
            for job in held:  # set aside: the account's next message is looked at right away
                holds.release(self.token, job.account_id, next_send_at=job.due)
            return self.mark_sending(jobs, now)

    def check(self, account_id, message, due, now):
        """A job for the account's head message, or None after dealing with what is not one."""
        if message is None:
            return holds.go_idle(self.token, account_id, ready_at=due)
        if message.status == Message.SENDING:
            # Still `sending` although our claim proves its holder's hold ran out: that worker
            # died or froze around the transport call. Never guess: fail and refund.
            self.failed += fail(message, INTERRUPTED, now, reason="interrupted")
            return holds.release(self.token, account_id, next_send_at=max(due, now))
        account = message.chat.account
        if not account.is_connected:
            Message.objects.filter(account_id=account_id, status=Message.QUEUED, error="").update(
                error=WAITING
            )
            return holds.release(self.token, account_id, next_send_at=None)
        hold = account_hold(account, now)
        if hold is not None:
            # Quiet hours or a pause (G2, G3): not due again before it ends (or a resume).
            return holds.release(self.token, account_id, next_send_at=hold[1])
        if message.expires_at and message.expires_at <= now:
            self.failed += fail(message, EXPIRED, now, expected=[Message.QUEUED], reason="expired")
            return holds.release(self.token, account_id, next_send_at=due)
        return Job(message, due, held_until=now, claimed_at=now)

    def mark_sending(self, jobs, now):
        """Move the jobs' messages from queued to sending in one statement; an account whose
        message moved on meanwhile (expired, cancelled) is looked at again at once."""
        for job in jobs:
            message = job.message
            message.sending_at, message.retry_at = now, None
            message.send_attempts += 1
        fields = ["sending_at", "retry_at", "send_attempts"]
        moved = {
            m.pk for m in move([j.message for j in jobs], Message.SENDING, [Message.QUEUED], fields)
        }
        for job in jobs:
            if job.message.pk not in moved:
                holds.release(self.token, job.account_id, next_send_at=now)
        return [job for job in jobs if job.message.pk in moved]

    def renew(self):
        """Keep holding the accounts of sends that run long (a slow download): a hold older than
        a fifth of its length is renewed; a send stuck past any bound is let go."""
        now = self.clock.now()
        due = now + holds.hold() * 0.8
        jobs = [
            job
            for job in self.inflight.values()
            if job.held_until < due and not job.lost and now - job.claimed_at < longest_send()
        ]
        if not jobs:
            return
        renewed = holds.renew(self.token, [job.account_id for job in jobs], now)
        for job in jobs:
            if job.account_id in renewed:
                job.held_until = now + holds.hold()
            else:
                job.lost = True

    # Settling ------------------------------------------------------------------------------

    def settle(self):
        """Record finished sends and let go of their accounts, in one transaction."""
        finished = [f for f in self.inflight if f.done()]
        outcomes = self.done + [f.result() for f in finished]
        for future in finished:
            del self.inflight[future]
        self.done = []
        if not outcomes:
            return
        # Refunds lock balances: by workspace, so two dispatchers never wait on each other
        # (credits/models.py, lock order).
        outcomes.sort(key=lambda o: (o.job.message.chat.account.workspace_id, o.job.due))
        with transaction.atomic():
            held = holds.lock_held(self.token, [o.job.account_id for o in outcomes])
            self.sent += record_sent([o for o in outcomes if o.ok])
            busy, maybe_idle = [], []
            for outcome in outcomes:
                more, nxt = self.record(outcome)
                if outcome.job.account_id in held:
                    (busy if more else maybe_idle).append((outcome.job.account_id, nxt))
            holds.settle(self.token, busy, maybe_idle)
            screening.after_sends(outcomes)

    def record(self, outcome):
        """Record a failed outcome (sent ones are recorded together); returns whether its
        account has more to send for sure, and when it may send next."""
        job = outcome.job
        nxt = next_send(outcome)
        if outcome.ok:
            return job.more, nxt
        failed, retry_at = record_failure(outcome)
        self.failed += failed
        if failed:
            return job.more, nxt
        return True, max(nxt, retry_at or nxt)  # back in the queue

    def idle_seconds(self):
        """Seconds until the next account is due to be claimed; None when none is."""
        if self.done:
            return 0
        nxt = holds.next_due()
        if nxt is None:
            return None
        return max((nxt - self.clock.now() - LOOKAHEAD).total_seconds(), 0)


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
