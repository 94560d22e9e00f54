"""Accounts and who may send for them: the queue's side of the paced sender, all in SQL.

An account with work has `next_send_at` (indexed): when it may send next. A dispatcher claims the
accounts that are due (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite serialises writers, so the
same statements are a compare-and-swap there) and holds each one: `lease_token` names it (the
token of the dispatcher's lease, timelines.workers), `lease_until` says until when, and
`next_send_at` is pushed to the same time, so that a hold nobody renews makes the account due
again for whichever dispatcher runs next. A dispatcher renews the holds of its sends in flight.

An idle account has `next_send_at = NULL` and `ready_at`, the end of the gap after its last send:
waking it (a message queued) makes it due at that time, or now if it is over.
"""

from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Exists, OuterRef

from whatsapp.models import PAUSE_ALL, Account, Message
from whatsapp.status import PENDING, waiting_sql


def hold():
    """How long a claim holds an account unless renewed (SENDER_LEASE_SECONDS): a dead
    dispatcher's accounts are taken over after this."""
    return timedelta(seconds=settings.SENDER_LEASE_SECONDS)


def quote(name):
    return connection.ops.quote_name(name)


def table():
    return quote(Account._meta.db_table)


def pending_of_account():
    return Message.objects.filter(account_id=OuterRef("pk"), status__in=PENDING, hold_reason="")


def wake_statement(account_id, now):
    """(sql, params) that makes an idle account due: at the end of its gap, or now. It changes a
    row only when the account was idle; the caller then makes sure a dispatcher runs."""
    sql = (
        f"UPDATE {table()} SET next_send_at = CASE WHEN ready_at > %s THEN ready_at ELSE %s END "
        "WHERE id = %s AND next_send_at IS NULL"
    )
    return sql, [now, now, account_id]


def wake_many(account_ids, now):
    """wake_statement for many accounts at once (scheduled messages released together)."""
    marks = ", ".join(["%s"] * len(account_ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table()} SET next_send_at = CASE WHEN ready_at > %s THEN ready_at ELSE %s "
            f"END WHERE id IN ({marks}) AND next_send_at IS NULL",
            [now, now, *account_ids],
        )
        return cursor.rowcount


def any_due(horizon):
    return Account.objects.filter(next_send_at__lte=horizon).exists()


def claim(token, limit, now, horizon):
    """Hold up to `limit` accounts due by `horizon` for the dispatcher `token`: [(id, due)].
    Call inside the transaction that marks their messages `sending`."""
    until = now + hold()
    due = list(
        Account.objects.select_for_update(skip_locked=True, of=("self",), no_key=True)
        .filter(next_send_at__lte=horizon)
        .order_by("next_send_at")
        .values_list("pk", "next_send_at", "ready_at")[:limit]
    )
    if due:
        Account.objects.filter(pk__in=[pk for pk, _, _ in due]).update(
            next_send_at=until, lease_until=until, lease_token=token
        )
    # Never before the gap is over, whoever made the account due.
    return [(pk, max(at, ready) if ready else at) for pk, at, ready in due]


def renew(token, account_ids, now):
    """Extend the holds of `account_ids` that `token` still has; returns the ids renewed."""
    if not account_ids:
        return set()
    until = now + hold()
    marks = ", ".join(["%s"] * len(account_ids))
    sql = (
        f"UPDATE {table()} SET next_send_at = %s, lease_until = %s "
        f"WHERE lease_token = %s AND id IN ({marks}) RETURNING id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [until, until, token, *account_ids])
        return {row[0] for row in cursor.fetchall()}


def release(token, account_id, next_send_at):
    Account.objects.filter(pk=account_id, lease_token=token).update(
        next_send_at=next_send_at, lease_until=None, lease_token=""
    )


def heads(account_ids):
    """{account id: (its oldest queued-or-sending message, how many are pending)}, in two
    queries, each account's found in its own part of the message_pending index."""
    marks = ", ".join(["%s"] * len(account_ids))
    sql = (
        f"SELECT MIN(id), COUNT(*) FROM {quote(Message._meta.db_table)} "
        f"WHERE account_id IN ({marks}) AND {waiting_sql()} GROUP BY account_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, list(account_ids))
        pending = dict(cursor.fetchall())
    messages = Message.objects.filter(pk__in=list(pending)).select_related(
        "chat__account__workspace"
    )
    return {m.account_id: (m, pending[m.pk]) for m in messages}


def lock_held(token, account_ids):
    """Lock the rows of `account_ids` that `token` still holds; returns their ids. Call inside
    the transaction that records what was sent."""
    return set(
        Account.objects.select_for_update(of=("self",), no_key=True)
        .filter(pk__in=account_ids, lease_token=token)
        .values_list("pk", flat=True)
    )


def settle(token, busy, maybe_idle):
    """Let go of accounts after a send: `busy` [(id, next send)] have more to send; each of
    `maybe_idle` [(id, next send)] goes idle unless a message was queued for it meanwhile (its
    wake found the account held and did nothing: this statement is what sees it)."""
    release = "lease_until = NULL, lease_token = ''"
    with connection.cursor() as cursor:
        if busy:
            cursor.executemany(
                f"UPDATE {table()} SET next_send_at = %s, ready_at = %s, {release} "
                "WHERE id = %s AND lease_token = %s",
                [[at, at, pk, token] for pk, at in busy],
            )
        if maybe_idle:
            more = (
                f"EXISTS (SELECT 1 FROM {quote(Message._meta.db_table)} m "
                f"WHERE m.account_id = {table()}.id AND {waiting_sql('m')})"
            )
            cursor.executemany(
                f"UPDATE {table()} SET next_send_at = CASE WHEN {more} THEN %s ELSE NULL END, "
                f"ready_at = %s, {release} WHERE id = %s AND lease_token = %s",
                [[at, at, pk, token] for pk, at in maybe_idle],
            )


def go_idle(token, account_id, ready_at):
    """Nothing left to send: idle until a message is queued (unless one was, meanwhile)."""
    settle(token, [], [(account_id, ready_at)])


def next_due():
    """When the next account is due (None when every account is idle)."""
    return (
        Account.objects.filter(next_send_at__isnull=False)
        .order_by("next_send_at")
        .values_list("next_send_at", flat=True)
        .first()
    )


def rewake_lost(now):
    """Accounts with work whose wake was lost (a worker died between commit and wake): due now,
    or at the end of their gap. Returns how many."""
    lost = Account.objects.filter(next_send_at__isnull=True, status=Account.CONNECTED).exclude(
        paused=PAUSE_ALL,
        paused_until__isnull=True,  # paused until resumed: resuming wakes it
    )
    ids = list(lost.filter(Exists(pending_of_account())).values_list("pk", flat=True))
    for pk in ids:
        sql, params = wake_statement(pk, now)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
    return len(ids)
