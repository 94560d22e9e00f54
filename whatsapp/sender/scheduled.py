"""Scheduled messages (SPEC G5): a message with `send_at` in the future is `scheduled`, outside
the sender's index, until then; every dispatcher round releases the ones that are due, a batch
at a time, as queued, and wakes their accounts. From there they leave like any other message:
one at a time per account, the gap after each, so a thousand messages scheduled for the same
minute on one account still leave ~2 s apart, and many accounts start together without a burst
on any one of them.

The look costs one index probe per round (the message_scheduled index holds only scheduled
messages, by time; its status is written as a literal, as in the index's condition, for SQLite).
"""

from django.db import connection, transaction
from django.utils import timezone

from whatsapp.models import Message
from whatsapp.sender import holds
from whatsapp.status import move

BATCH = 1000


def due_sql():
    table = connection.ops.quote_name(Message._meta.db_table)
    # SQLite's planner prefers the (status, queued_at) index's equality, which reads every
    # scheduled message and sorts them, each round: it is told which index walks in order.
    indexed = " INDEXED BY message_scheduled" if connection.vendor == "sqlite" else ""
    return (
        f"SELECT id, account_id FROM {table}{indexed} WHERE status = 'scheduled' "
        "AND send_at <= %s ORDER BY send_at, id LIMIT %s"
    )


def first_of_each_sql():
    table = connection.ops.quote_name(Message._meta.db_table)
    indexed = " INDEXED BY message_scheduled" if connection.vendor == "sqlite" else ""
    return (
        f"SELECT MIN(id), account_id FROM {table}{indexed} WHERE status = 'scheduled' "
        "AND send_at <= %s GROUP BY account_id LIMIT %s"
    )


def release_due(now, batch=BATCH):
    """Queue the scheduled messages that are due (one batch); returns how many moved. When more
    are due than a batch holds (many scheduled for one moment), every account's first due
    message goes first: each account starts at once, and the rest of its messages, released in
    the rounds that follow, are needed only one gap (1.5 s or more) after the one before."""
    with connection.cursor() as cursor:
        cursor.execute(due_sql(), [now, batch])
        rows = cursor.fetchall()
        if len(rows) == batch:
            cursor.execute(first_of_each_sql(), [now, batch])
            rows = list(dict.fromkeys(cursor.fetchall() + rows))[:batch]
    if not rows:
        return 0
    messages = []
    for pk, account_id in rows:
        message = Message(pk=pk, account_id=account_id, status=Message.SCHEDULED, queued_at=now)
        messages.append(message)
    with transaction.atomic():
        moved = move(messages, Message.QUEUED, [Message.SCHEDULED], ["queued_at"])
        accounts = sorted({m.account_id for m in moved})
        if accounts:
            holds.wake_many(accounts, now)
    return len(moved)


def release_all_due(now=None):
    """Release every due scheduled message (the tick, tests)."""
    now = now or timezone.now()
    total = 0
    while count := release_due(now):
        total += count
    return total


def expire_due(now=None):
    """Fail and refund the scheduled or queued messages whose `expires_at` has passed before
    they were handed to WhatsApp (the one-minute tick: messages held by the governor or behind
    a disconnected account are never claimed; a claimed one is expired by the dispatcher)."""
    from whatsapp.sender.outcomes import fail
    from whatsapp.sender.sending import EXPIRED

    now = now or timezone.now()
    late = Message.objects.filter(
        status__in=[Message.SCHEDULED, Message.QUEUED], expires_at__lte=now
    ).select_related("chat__account__workspace")
    count = 0
    for message in late.iterator():
        with transaction.atomic():
            count += fail(
                message,
                EXPIRED,
                now,
                expected=[Message.SCHEDULED, Message.QUEUED],
                reason="expired",
            )
    return count
