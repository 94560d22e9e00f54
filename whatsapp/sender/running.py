"""Keeping the paced sender running: waking accounts, the dispatchers' leases and tasks, the
one-minute schedule (timelines.keeper restarts a dead dispatcher within seconds)."""

import time
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from timelines import workers
from whatsapp.delivery import forget_early_acks
from whatsapp.models import Account, Message
from whatsapp.sender import holds, scheduled
from whatsapp.sender.dispatcher import Dispatcher
from whatsapp.sender.outcomes import fail
from whatsapp.sender.sending import longest_send

TASK = "whatsapp.sender.run_dispatcher"
# A dispatcher task runs this long, then hands over to a successor it started HANDOVER_LEAD
# seconds earlier. Short, because a qcluster stopping cleanly waits for its running tasks.
DISPATCHER_LIFETIME = 15
HANDOVER_LEAD = 4
RENEW_EVERY = 1  # seconds between two renewals of a dispatcher's lease
START_GRACE = 45  # seconds a queued dispatcher task has to start before its lease frees itself


def task_timeout():
    """A dispatcher finishes the sends it started before it ends: its task may outlive its
    lifetime by the longest send (django-q2 kills a task at its timeout, sends in flight too;
    it counts whole seconds)."""
    return int(DISPATCHER_LIFETIME + longest_send().total_seconds() + 15)


def dispatcher_names():
    return [f"sender-dispatcher-{n}" for n in range(1, settings.SENDER_DISPATCHERS + 1)]


def wake(account_id, now=None):
    """Make sure the account's queued messages will be sent: an idle account becomes due (now,
    or when its gap ends) and a dispatcher is started if none is running."""
    now = now or timezone.now()
    # One plain statement, not a queryset: it runs after every queued message, on the inbound
    # endpoint's hot path, where building the ORM's UPDATE would cost more than running it.
    with connection.cursor() as cursor:
        cursor.execute(*holds.wake_statement(account_id, now))
        woken = cursor.rowcount
    # A busy account is a running dispatcher's already (or the keeper's to restart): checking
    # the leases again on every queued message would cost the endpoint a query for nothing.
    if woken:
        ensure_dispatchers(now)


def wake_on_commit(account_id):
    transaction.on_commit(lambda: wake(account_id))


def on_account_status_changed(sender, account, previous, **kwargs):
    """Messages that waited for the account to reconnect go out now, not at the next tick."""
    if account.is_connected:
        wake_on_commit(account.pk)


def ensure_dispatchers(now=None):
    """Start a dispatcher task for every dispatcher lease that is free; returns how many."""
    names = dispatcher_names()
    free = [name for name in names if name not in workers.held(names, now)]
    return sum(
        workers.start_once(
            name,
            TASK,
            seconds=START_GRACE,
            task_name=f"paced sender {name}",
            timeout=task_timeout(),
        )
        for name in free
    )


def run_dispatcher(name, handover_from=""):
    """django-q task: take the dispatcher lease `name` (reserved for this task, or handed over
    by the predecessor holding `handover_from`), dispatch for DISPATCHER_LIFETIME seconds,
    start a successor shortly before, then finish what is in flight."""
    if name not in dispatcher_names():
        return "no such dispatcher"  # SENDER_DISPATCHERS was lowered: the chain ends here
    lease = settings.SENDER_SLOT_LEASE_SECONDS
    token = workers.take(name, lease, handover_from=handover_from)
    if token is None:
        return "another dispatcher holds the lease"
    dispatcher = Dispatcher(token=token)
    start = time.monotonic()
    renew_at, successor = 0.0, False
    try:
        while (elapsed := time.monotonic() - start) < DISPATCHER_LIFETIME:
            if elapsed >= renew_at:
                if not workers.renew(name, token, lease):
                    break  # the successor took over
                renew_at = elapsed + min(RENEW_EVERY, lease / 4)
            if not successor and elapsed >= DISPATCHER_LIFETIME - HANDOVER_LEAD:
                successor = _start_successor(name, token)
            dispatcher.step()
            dispatcher.wait()
    finally:
        dispatcher.finish()
        workers.release(name, token)  # a no-op once the successor holds it
    return f"dispatcher {name}: {dispatcher.sent} sent, {dispatcher.failed} failed"


def _start_successor(name, token):
    from django_q.tasks import async_task

    async_task(
        TASK,
        name,
        token,
        task_name=f"paced sender {name} (successor)",
        timeout=task_timeout(),
    )
    return True


def tick(now=None):
    """The one-minute schedule: release scheduled messages and end holds and pauses that are over
    (the dispatchers do the first every round; this covers a time with none running), expire
    messages past their `expires_at`, recover lost wakes, expire messages stuck behind a
    disconnected account, keep the dispatchers running, forget early acks that never met their
    send."""
    from whatsapp.governor import pauses

    now = now or timezone.now()
    pauses_ended, released = pauses.end_due(now)
    return {
        "scheduled_released": scheduled.release_all_due(now),
        "expired_by_request": scheduled.expire_due(now),
        "pauses_ended": pauses_ended,
        "holds_released": released,
        "rewoken": holds.rewake_lost(now),
        "expired": expire_waiting(now),
        "dispatchers_started": ensure_dispatchers(now),
        "early_acks_forgotten": forget_early_acks(now),
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
            count += fail(message, error, now, expected=[Message.QUEUED], reason="disconnected")
    return count
