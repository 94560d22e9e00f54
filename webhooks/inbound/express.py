"""The inbound endpoint's express lane: the everyday request, accepted in four round trips.

The everyday request sends to a phone, a contact's JID or a chat id, has no Idempotency-Key and is
valid. The general path (`service.answer`, through the ORM) spends a dozen queries and several
milliseconds of Python on it; the endpoint's target (bench/inbound.py) leaves about one. So, on
PostgreSQL (SQLite: see below):

1. One read resolves the URL's token to its workspace, the sending account (and the member who
   connected it) and the chat, when there is one already.
2. In a transaction, one statement inserts the chat (when it is new), the message, its ledger
   entry and the attempt-log entry, provided the balance covers the message. The message is
   announced (`message_stored`) inside the transaction, as `store` does.
3. One simple query takes the credits, commits and wakes the account, as `queue_message` would.
   The balance row, which every request of the workspace waits for, is locked only from that
   UPDATE to the COMMIT right behind it, with no round trip or Python in between.
(The fourth round trip is the BEGIN that psycopg sends on its own.)

The rows are built by the same code as on the general path (`queued_message`, `reservation`,
`attempt_row`, `Chat.direct_defaults`) and inserted by `timelines.rows`, so the two paths cannot
drift apart: tests send the same requests through both and compare every column.

Anything else - an error of any kind, a short balance, credits spent or a chat created by a
concurrent request meanwhile, an Idempotency-Key, a group, a chat name - leaves this lane with
nothing written (its transaction rolled back), and the general path answers it with its exact
error.

SQLite cannot modify rows inside WITH and has no round trips to save: there the lane inserts the
same rows a statement each, in one short transaction (`_insert_one_by_one`).

The statements are prepared once per connection, which saves the planner's work on every
request. Behind a pooler in transaction mode that cannot keep prepared statements, set
DB_PREPARED_STATEMENTS=false.
"""

import re
import sqlite3
import weakref
from functools import cache

import psycopg
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from credits.models import BALANCE_NEVER_NEGATIVE, Balance, LedgerEntry, reservation
from timelines.rows import RowInsert, mark_saved
from webhooks.inbound.intake import InboundError, parse_json, parse_send_request
from webhooks.inbound.models import MAX_BODY_BYTES, Attempt, InboundWebhook, token_digest
from webhooks.inbound.service import Outcome, attempt_row, message_fields, prune_later
from whatsapp import sender
from whatsapp.jids import contact_jid, is_group_jid, jid_user
from whatsapp.models import Account, Chat, Message
from whatsapp.outbox import queued_message
from whatsapp.phones import InvalidPhone, normalize_phone
from whatsapp.store import announce


class Declined(Exception):
    """The balance was short, or a concurrent request spent it or created the chat meanwhile:
    roll back, and let the general path answer."""


def available():
    # SQLite needs RETURNING (3.35); Python's own SQLite is older only on old systems.
    return connection.vendor == "postgresql" or (
        connection.vendor == "sqlite" and sqlite3.sqlite_version_info >= (3, 35)
    )


def _postgres():
    return connection.vendor == "postgresql"


def accept(token, call):
    """The Outcome of `call` when the express lane accepts it, else None (nothing written)."""
    if not available() or connection.in_atomic_block:
        return None  # the lane commits its own transaction: never inside a caller's
    if call.method != "POST" or call.idempotency_key or call.size > MAX_BODY_BYTES:
        return None
    try:
        request = parse_send_request(parse_json(call.raw))
    except InboundError:
        return None
    recipient = _recipient(request)
    if recipient is None:
        return None
    found = _resolve(token, request, recipient)
    if found is None:
        return None
    workspace_id, chat = found
    try:
        with transaction.atomic():
            return _write(workspace_id, chat, request, call)
    except Declined:
        return None


# -- Resolving: token → workspace, account, chat, in one read ----------------------------------


def _recipient(request):
    """("phone", E.164) or ("chat_id", id) for the recipients this lane serves, else None."""
    kind, value = request.recipient_kind, request.recipient
    if kind == "phone":
        return "phone", value
    if kind == "jid" and not is_group_jid(value):
        try:
            return "phone", normalize_phone("+" + jid_user(value))
        except InvalidPhone:
            return None  # the general path says why
    if kind == "chat_id":
        return "chat_id", value
    return None


@cache
def _resolve_sql(by):
    webhook, account, user, chat = (
        _table(model) for model in (InboundWebhook, Account, get_user_model(), Chat)
    )
    columns = (
        "a.id, a.phone, a.connected_by_id, u.first_name, u.last_name, u.username, "
        "c.id, c.name, c.phone, c.is_group"
    )
    if by == "phone":
        # The named account, or the most recently connected one (intake.sending_account).
        # Parameters: status, account phone (twice), JID, token digest.
        return (
            f"SELECT h.workspace_id, {columns} FROM {webhook} h "
            f"JOIN {account} a ON a.id = (SELECT id FROM {account} "
            "  WHERE workspace_id = h.workspace_id AND status = %s AND (%s = '' OR phone = %s) "
            "  ORDER BY last_connected_at DESC NULLS LAST, id DESC LIMIT 1) "
            f"LEFT JOIN {user} u ON u.id = a.connected_by_id "
            f"LEFT JOIN {chat} c ON c.account_id = a.id AND c.jid = %s "
            "WHERE h.token_sha256 = %s AND h.enabled"
        )
    # A chat id names its account; whatsapp_account_phone is ignored (I5).
    # Parameters: status, chat id, token digest.
    return (
        f"SELECT h.workspace_id, {columns} FROM {webhook} h "
        f"JOIN {account} a ON a.workspace_id = h.workspace_id AND a.status = %s "
        f"JOIN {chat} c ON c.account_id = a.id AND c.id = %s "
        f"LEFT JOIN {user} u ON u.id = a.connected_by_id "
        "WHERE h.token_sha256 = %s AND h.enabled"
    )


def _resolve(token, request, recipient):
    """(workspace_id, chat) with the chat's account filled in (the chat unsaved when it is new),
    or None when the token, the account or the chat is not found."""
    by, value = recipient
    digest = token_digest(token)
    if by == "phone":
        jid, phone = contact_jid(value), request.account_phone
        params = [Account.CONNECTED, phone, phone, jid, digest]
    else:
        params = [Account.CONNECTED, value, digest]
    row = _execute(_resolve_sql(by), params)
    if row is None:
        return None
    workspace_id, account_id, account_phone, user_id, first, last, username, *chat_row = row
    account = Account(
        id=account_id, workspace_id=workspace_id, phone=account_phone, status=Account.CONNECTED
    )
    if user_id is not None:  # the sender's name is the member's (Account.member_name)
        account.connected_by = get_user_model()(
            id=user_id, first_name=first, last_name=last, username=username
        )
    chat_id, name, phone, is_group = chat_row
    if chat_id is not None:
        chat = Chat(id=chat_id, name=name, phone=phone, is_group=is_group)
        mark_saved(chat, chat_id)
    else:
        chat = Chat(jid=jid, **Chat.direct_defaults(value))
    chat.account = account
    return workspace_id, chat


# -- Writing: credits, chat, message, ledger entry, attempt ---------------------------------


CHAT = RowInsert(Chat)
MESSAGE = RowInsert(Message)
MESSAGE_IN_NEW_CHAT = RowInsert(Message, {"chat_id": "new_chat.id"})
ENTRY = RowInsert(LedgerEntry)
ATTEMPT = RowInsert(Attempt)


@cache
def _write_sql(new_chat):
    """Insert the rows, if the balance covers the message: a plain read here, the UPDATE that
    takes the credits comes last (TAKE_CREDITS)."""
    funds = f"funds AS (SELECT 1 FROM {_table(Balance)} WHERE workspace_id = %s AND balance >= %s)"
    if new_chat:
        # Another request may create the same chat first: then nothing is inserted here and the
        # general path, which waits for that chat's row, answers.
        chat = CHAT.sql("funds", on_conflict="ON CONFLICT (account_id, jid) DO NOTHING")
        message = MESSAGE_IN_NEW_CHAT.sql("new_chat")
        ctes = [funds, f"new_chat AS ({chat})", f"message AS ({message})"]
        chat_id = "(SELECT id FROM new_chat)"
    else:
        ctes = [funds, f"message AS ({MESSAGE.sql('funds')})"]
        chat_id = "NULL"
    ctes += [
        f"entry AS ({ENTRY.sql('message', returning='')})",
        f"attempt AS ({ATTEMPT.sql('message')})",
    ]
    return (
        f"WITH {', '.join(ctes)} "
        f"SELECT {chat_id}, (SELECT id FROM message), (SELECT id FROM attempt)"
    )


@cache
def _take_credits_sql():
    # Unconditional: the balance's CHECK constraint (never negative) fails the statement when a
    # concurrent request spent the credits since the write's read, and the transaction with it.
    return f"UPDATE {_table(Balance)} SET balance = balance - %s WHERE workspace_id = %s"


def _write(workspace_id, chat, request, call):
    new_chat = chat.pk is None
    message = queued_message(chat, **message_fields(request), created_chat=new_chat)
    outcome = Outcome.accepted(message.message_id, request.recipient_kind)
    entry = reservation(workspace_id, message.credits, message.message_id)
    attempt = attempt_row(workspace_id, call, outcome)
    insert = _insert_in_one_statement if _postgres() else _insert_one_by_one
    chat_pk, message_pk, attempt_pk = insert(workspace_id, chat, message, entry, attempt)
    if new_chat:
        mark_saved(chat, chat_pk)
        message.chat = chat
    mark_saved(message, message_pk)
    mark_saved(attempt, attempt_pk)
    announce(message)
    prune_later(attempt)
    if _postgres():
        _take_credits_commit_and_wake(workspace_id, message.credits, chat.account_id)
    else:
        account_id = chat.account_id
        transaction.on_commit(lambda: sender.wake(account_id))
    return outcome


def _insert_in_one_statement(workspace_id, chat, message, entry, attempt):
    """PostgreSQL: (chat id if new, message id, attempt id), inserted by one statement."""
    new_chat = chat.pk is None
    params = [workspace_id, message.credits]
    if new_chat:
        params += CHAT.params(chat) + MESSAGE_IN_NEW_CHAT.params(message)
    else:
        params += MESSAGE.params(message)
    params += ENTRY.params(entry) + ATTEMPT.params(attempt)
    chat_pk, message_pk, attempt_pk = _execute(_write_sql(new_chat), params)
    if message_pk is None:
        raise Declined()
    return chat_pk, message_pk, attempt_pk


def _insert_one_by_one(workspace_id, chat, message, entry, attempt):
    """SQLite: the same rows, a statement each, after taking the credits. SQLite's writers take
    turns for their whole transaction (it begins IMMEDIATE), so nothing is gained by taking the
    credits last, and no concurrent request can spend them or create the chat in between."""
    cost = message.credits
    chat_pk = None
    with connection.cursor() as cursor:
        cursor.execute(_take_credits_if_covered_sql(), [cost, workspace_id, cost])
        if cursor.rowcount != 1:
            raise Declined()  # the general path answers 402
        if chat.pk is None:
            on_conflict = "ON CONFLICT (account_id, jid) DO NOTHING"
            cursor.execute(CHAT.sql(on_conflict=on_conflict), CHAT.params(chat))
            row = cursor.fetchone()
            if row is None:
                raise Declined()  # created meanwhile by a process that ignores our lock
            chat_pk = message.chat_id = row[0]
        cursor.execute(MESSAGE.sql(), MESSAGE.params(message))
        message_pk = cursor.fetchone()[0]
        cursor.execute(ENTRY.sql(returning=""), ENTRY.params(entry))
        cursor.execute(ATTEMPT.sql(), ATTEMPT.params(attempt))
        attempt_pk = cursor.fetchone()[0]
    return chat_pk, message_pk, attempt_pk


@cache
def _take_credits_if_covered_sql():
    return (
        f"UPDATE {_table(Balance)} SET balance = balance - %s "
        "WHERE workspace_id = %s AND balance >= %s"
    )


def _take_credits_commit_and_wake(workspace_id, cost, account_id):
    """Take the credits, commit, then wake the account (`sender.wake`), in one round trip.

    Every request of the workspace queues on the balance row from this UPDATE until the commit,
    so nothing may come in between: not a round trip, not a line of Python (a worker descheduled
    while holding the row stalls them all). The statements go as one simple query: when the
    UPDATE fails, the rest is not run and the atomic block around us rolls back; when it
    succeeds, that block finds the transaction committed and only runs its on-commit hooks. The
    wake comes after the commit, as `queue_message`'s does, so a dispatcher that finds the account
    idle meanwhile cannot miss the message.
    """
    now = timezone.now()
    wake_sql, wake_params = sender.wake_statement(account_id, now)
    take_sql, take_params = _take_credits_sql(), [cost, workspace_id]
    if _prepare_by_name(TAKE_CREDITS, take_sql) and _prepare_by_name(WAKE, wake_sql):
        take_sql, wake_sql = _execute_by_name(TAKE_CREDITS, 2), _execute_by_name(WAKE, 2)
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"{take_sql}; COMMIT; {wake_sql}", [*take_params, *wake_params])
            cursor.nextset()  # the COMMIT's result
            cursor.nextset()  # the wake's
            woken = cursor.rowcount
    except IntegrityError as exc:
        if getattr(exc.__cause__, "diag", None) and exc.__cause__.diag.constraint_name == (
            BALANCE_NEVER_NEGATIVE
        ):
            raise Declined() from None  # the general path answers 402
        raise
    if woken:
        transaction.on_commit(lambda: sender.ensure_dispatchers(now))


# -- Plumbing ----------------------------------------------------------------------------------


def _table(model):
    return connection.ops.quote_name(model._meta.db_table)


# A simple query (several statements in one round trip) cannot use protocol-level prepared
# statements, so the last step's two statements are prepared by name, in SQL, once per connection.
TAKE_CREDITS = "timelines_express_take_credits"
WAKE = "timelines_express_wake"
_prepared_by_name = weakref.WeakKeyDictionary()  # psycopg connection -> names prepared on it


def _prepare_by_name(name, sql):
    """Prepare `sql` (with %s placeholders) as `name` on this connection, unless prepared
    statements are off (DB_PREPARED_STATEMENTS=false); True when `name` can be executed."""
    conn = connection.connection
    if conn.prepare_threshold is None:
        return False
    names = _prepared_by_name.setdefault(conn, set())
    if name not in names:
        numbered = iter(range(1, sql.count("%s") + 1))
        statement = re.sub("%s", lambda _: f"${next(numbered)}", sql)
        with connection.cursor() as cursor:
            cursor.execute(f"PREPARE {name} AS {statement}")
        names.add(name)
    return True


def _execute_by_name(name, count):
    return f"EXECUTE {name}({', '.join(['%s'] * count)})"


def _execute(sql, params):
    """The first row of one statement; on PostgreSQL through a server-side binding cursor, which
    prepares it once per connection."""
    if not _postgres():
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, prepare=True)
        return cursor.fetchone()
