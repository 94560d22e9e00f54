"""Writing an accepted request: one short transaction.

It stores the chat (when the request starts one), the message, its ledger entry, the attempt-log
entry and the Idempotency-Key's answer (when one was given), then takes the credits and commits.

- PostgreSQL: the rows go in one statement (data-modifying CTEs), then one simple query takes the
  credits, commits and wakes the account. The balance row, which every request of the workspace
  waits for, is locked only from that UPDATE to the COMMIT right behind it, with no round trip or
  Python in between (the lock order in credits/models.py: the balance last). Four round trips in
  all, with psycopg's BEGIN.
- SQLite cannot modify rows inside WITH: the same rows go a statement each. Its writers take turns
  for the whole transaction (it begins IMMEDIATE), so the order changes nothing there.

A concurrent request may create the same chat, or take the same Idempotency-Key, first: then
nothing is inserted, the transaction is rolled back and `LostRace` tells the caller to answer the
request again from the top, where the read now finds that chat or key.
"""

from functools import cache

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from credits.models import BALANCE_NEVER_NEGATIVE, Balance, LedgerEntry, QuotaExceeded
from timelines.metrics import CREDITS_SPENT, after_commit
from timelines.rows import RowInsert, fetch_one, mark_saved, table
from webhooks.inbound.models import Attempt, IdempotencyKey
from whatsapp import sender
from whatsapp.models import Chat, Message
from whatsapp.signals import chat_created
from whatsapp.store import announce


class LostRace(Exception):
    """A concurrent request created the chat or took the Idempotency-Key first."""


CHAT = RowInsert(Chat)
KEY = RowInsert(IdempotencyKey)
MESSAGE = RowInsert(Message)
MESSAGE_IN_NEW_CHAT = RowInsert(Message, {"chat_id": "new_chat.id"})
ENTRY = RowInsert(LedgerEntry)
ATTEMPT = RowInsert(Attempt)

CHAT_CONFLICT = "ON CONFLICT (account_id, jid) DO NOTHING"
KEY_CONFLICT = "ON CONFLICT (workspace_id, {key}) DO NOTHING"


def store(workspace_id, message, entry, attempt, key=None, expired_key=None):
    """Insert the rows and take `message.credits`, in one transaction that this call commits.

    `message.chat` is unsaved when the request starts the chat. Raises QuotaExceeded (the
    balance is short: nothing stored) or LostRace.
    """
    chat = message.chat
    new_chat = chat.pk is None
    # Inside a caller's transaction (a test, a shell) the commit is the caller's to make.
    commit_here = connection.vendor == "postgresql" and not connection.in_atomic_block
    with transaction.atomic():
        if expired_key is not None:
            IdempotencyKey.objects.filter(pk=expired_key.pk).delete()
        insert = _in_one_statement if connection.vendor == "postgresql" else _one_by_one
        chat_pk, message_pk, attempt_pk = insert(chat, message, entry, attempt, key)
        if new_chat:
            mark_saved(chat, chat_pk)
            message.chat = chat
        mark_saved(message, message_pk)
        mark_saved(attempt, attempt_pk)
        if new_chat:
            chat_created.send(sender=Chat, chat=chat, direction=Message.SENT)
        announce(message)
        prune_later(attempt)
        after_commit(lambda: CREDITS_SPENT.inc(message.credits))
        if commit_here:
            _take_credits_and_commit(workspace_id, message.credits, chat.account_id)
        else:
            _take_credits(workspace_id, message.credits, chat.account_id)


def record(attempt):
    """Insert an attempt-log entry on its own (a request answered with an error)."""
    (pk,) = fetch_one(ATTEMPT.sql(), ATTEMPT.params(attempt))
    mark_saved(attempt, pk)
    prune_later(attempt)
    return attempt


PRUNE_EVERY = 10


def prune_later(attempt):
    """Trim the workspace's log once the transaction that recorded `attempt` has committed.

    After commit and in its own statement (pruning inside the transaction would make concurrent
    requests of a workspace wait on each other's row locks), and only every PRUNE_EVERY attempts:
    the log shows the 100 latest, storage holds at most 100 + 9.
    """
    if attempt.pk % PRUNE_EVERY == 0:
        workspace_id = attempt.workspace_id
        transaction.on_commit(lambda: Attempt.prune(workspace_id), robust=True)


# -- PostgreSQL: one statement, then one round trip that takes the credits and commits ----------


@cache
def _statement(new_chat, with_key):
    ctes, sources = [], []
    if new_chat:
        ctes.append(f"new_chat AS ({CHAT.sql(on_conflict=CHAT_CONFLICT)})")
        sources.append("new_chat")
    if with_key:
        conflict = KEY_CONFLICT.format(key=connection.ops.quote_name("key"))
        ctes.append(f"taken_key AS ({KEY.sql(on_conflict=conflict)})")
        sources.append("taken_key")
    # No new chat or no key inserted (a concurrent request's won): no message either.
    message = (MESSAGE_IN_NEW_CHAT if new_chat else MESSAGE).sql(
        " CROSS JOIN ".join(sources) or "(SELECT 1) AS one_row"
    )
    ctes += [
        f"message AS ({message})",
        f"entry AS ({ENTRY.sql('message', returning='')})",
        f"attempt AS ({ATTEMPT.sql('message')})",
    ]
    chat_id = "(SELECT id FROM new_chat)" if new_chat else "NULL"
    return (
        f"WITH {', '.join(ctes)} "
        f"SELECT {chat_id}, (SELECT id FROM message), (SELECT id FROM attempt)"
    )


def _in_one_statement(chat, message, entry, attempt, key):
    new_chat = chat.pk is None
    params = CHAT.params(chat) if new_chat else []
    if key is not None:
        params += KEY.params(key)
    params += (MESSAGE_IN_NEW_CHAT if new_chat else MESSAGE).params(message)
    params += ENTRY.params(entry) + ATTEMPT.params(attempt)
    ids = fetch_one(_statement(new_chat, key is not None), params)
    if ids[1] is None:
        raise LostRace()
    return ids


def _take_credits_and_commit(workspace_id, cost, account_id):
    now = timezone.now()
    wake_sql, wake_params = sender.wake_statement(account_id, now)
    # Unconditional: the balance's CHECK constraint (never negative) fails the statement when a
    # concurrent request spent the credits since the read, and the transaction with it. The
    # statements go as one simple query: when the UPDATE fails, the rest is not run and the
    # atomic block around us rolls back; when it succeeds, that block finds the transaction
    # committed and only runs its on-commit hooks. The wake comes after the commit, as
    # `queue_message`'s does, so a dispatcher that finds the account idle cannot miss the message.
    take_sql = f"UPDATE {table(Balance)} SET balance = balance - %s WHERE workspace_id = %s"
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"{take_sql}; COMMIT; {wake_sql}", [cost, workspace_id, *wake_params])
            cursor.nextset()  # the COMMIT's result
            cursor.nextset()  # the wake's
            woken = cursor.rowcount
    except IntegrityError as exc:
        if getattr(exc.__cause__, "diag", None) and exc.__cause__.diag.constraint_name == (
            BALANCE_NEVER_NEGATIVE
        ):
            raise QuotaExceeded() from None
        raise
    if woken:
        # robust: the message is committed and the answer decided; a broker that is down must not
        # turn it into a 500 (and a retried duplicate). The every-minute tick starts the sender.
        transaction.on_commit(lambda: sender.ensure_dispatchers(now), robust=True)


# -- SQLite (and inside a caller's transaction): a statement each ----------------------------


def _one_by_one(chat, message, entry, attempt, key):
    chat_pk = None
    if chat.pk is None:
        row = fetch_one(CHAT.sql(on_conflict=CHAT_CONFLICT), CHAT.params(chat))
        if row is None:
            raise LostRace()
        chat_pk = message.chat_id = row[0]
    if key is not None:
        conflict = KEY_CONFLICT.format(key=connection.ops.quote_name("key"))
        if fetch_one(KEY.sql(on_conflict=conflict), KEY.params(key)) is None:
            raise LostRace()
    (message_pk,) = fetch_one(MESSAGE.sql(), MESSAGE.params(message))
    with connection.cursor() as cursor:
        cursor.execute(ENTRY.sql(returning=""), ENTRY.params(entry))
    (attempt_pk,) = fetch_one(ATTEMPT.sql(), ATTEMPT.params(attempt))
    return chat_pk, message_pk, attempt_pk


def _take_credits(workspace_id, cost, account_id):
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table(Balance)} SET balance = balance - %s "
            "WHERE workspace_id = %s AND balance >= %s",
            [cost, workspace_id, cost],
        )
        if cursor.rowcount != 1:
            raise QuotaExceeded()
    transaction.on_commit(lambda: sender.wake(account_id), robust=True)
