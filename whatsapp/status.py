"""A sent message's status, and the one function that changes it.

(scheduled ->) queued -> sending -> sent -> delivered -> read, or failed, or cancelled (a
scheduled or queued message); a temporary error or a restriction puts a `sending` message back
to `queued`. The paced sender, delivery reports and expiries all move messages
through `move`, a compare-and-swap in one statement however many messages it moves: a message
moves only from a status the caller expected, so two writers that race (a dispatcher that took an
account over and the one that held it, a report and the sender) never both win, and each change
is announced exactly once (whatsapp.signals.message_status_changed). Nothing else writes the
column: tests/test_message_status_writes.py reads the source to keep it so.
"""

from django.db import connection

from whatsapp.models import Message
from whatsapp.signals import message_status_changed

PENDING = (Message.QUEUED, Message.SENDING)
# PENDING written into SQL as it is written in the message_pending index's condition: a query
# may use a partial index only when its own condition implies the index's, and SQLite cannot
# tell that of a bound parameter (it scans every waiting message instead).
PENDING_SQL = "(" + ", ".join(f"'{status}'" for status in PENDING) + ")"


def waiting_sql(alias=""):
    """The whole condition of the message_pending index, as SQL: waiting, and not set aside by
    the governor (`alias`: the message table's alias in the query, if any)."""
    prefix = f"{alias}." if alias else ""
    return f"{prefix}status IN {PENDING_SQL} AND {prefix}hold_reason = ''"


def move(messages, status, expected, fields=()):
    """Move each of `messages` whose status is still one of `expected` to `status`, writing the
    `fields` each message carries (set them on the instances first); returns the messages that
    moved, announced together, each with its previous status. Call inside the transaction that
    makes the change, so that what the announcement writes (webhook deliveries) commits with it."""
    messages = list(messages)
    if not messages:
        return []
    sql, params = _statement(messages, status, tuple(expected), list(fields))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        moved_ids = {row[0] for row in cursor.fetchall()}
    moved = [m for m in messages if m.pk in moved_ids]
    changes = []
    for message in moved:
        changes.append((message, message.status))
        message.status = status
    if changes:
        message_status_changed.send(sender=Message, changes=changes)
    return moved


def _statement(messages, status, expected, names):
    """UPDATE ... FROM (the new values, one row per message) ... RETURNING the ids that moved.
    SQLite (3.35+) and PostgreSQL both read this; PostgreSQL needs the first row's types."""
    meta, quote = Message._meta, connection.ops.quote_name
    fields = [meta.get_field(name) for name in names]
    columns = ["id"] + [f.column for f in fields]
    typed = connection.vendor == "postgresql"
    first = ", ".join(
        f"CAST(%s AS {f.db_type(connection)})" if typed else "%s" for f in [meta.pk, *fields]
    )
    rest = ", ".join(["%s"] * len(columns))
    rows = ", ".join([f"({first})"] + [f"({rest})"] * (len(messages) - 1))
    table = quote(meta.db_table)
    assignments = ", ".join(
        [f"{quote('status')} = %s"] + [f"{quote(c)} = v.{quote(c)}" for c in columns[1:]]
    )
    sql = (
        f"WITH v ({', '.join(quote(c) for c in columns)}) AS (VALUES {rows}) "
        f"UPDATE {table} SET {assignments} FROM v "
        f"WHERE {table}.id = v.id AND {table}.{quote('status')} IN "
        f"({', '.join(['%s'] * len(expected))}) RETURNING {table}.id"
    )
    params = []
    for message in messages:
        params.append(message.pk)
        params += [f.get_db_prep_save(getattr(message, f.attname), connection) for f in fields]
    return sql, [*params, status, *expected]
