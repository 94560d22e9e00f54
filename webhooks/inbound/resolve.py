"""Resolving a request to an inbound URL: one read.

One statement finds, for the URL's token, the webhook (and whether it is enabled), the workspace's
balance, the stored answer to the request's Idempotency-Key, the sending account (and the member
who connected it) and the chat — whatever field named the recipient. Every answer the endpoint can
give before writing is decided from that one row (`Target`), so a request costs one read however
it ends.

The statement is built per recipient kind and cached; on PostgreSQL psycopg prepares it once per
connection (and forgets it on its own when a rollback discards it).
"""

import json
from dataclasses import dataclass
from functools import cache

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import DateTimeField

from credits.models import Balance
from timelines.rows import fetch_one, mark_saved, table
from webhooks.inbound.models import IdempotencyKey, InboundWebhook, token_digest
from whatsapp.jids import contact_jid
from whatsapp.models import Account, Chat

# What a recipient field names, for the statement: a contact (by phone or contact JID: one chat
# per account and JID, created when missing), a chat id, a group JID or a chat name.
CONTACT, CHAT_ID, GROUP, CHAT_NAME = "contact", "chat_id", "group", "chat_name"


@dataclass
class Target:
    """What the read found. `chat` is None when no chat matched (a new contact's chat is built
    unsaved, with its account); `account` is the chat's account or the sending one."""

    workspace_id: int
    enabled: bool
    balance: int
    key: IdempotencyKey | None
    account: Account | None
    chat: Chat | None
    named_account_found: bool  # the whatsapp_account_phone given is a connected account
    another_chat_id: int | None  # a second chat with the same name (CHAT_NAME only)


def read(token, *, kind=None, value=None, account_phone="", key=""):
    """The Target for `token` (None when no webhook has it). Without `kind` (the request did not
    parse), only the webhook, balance and key are read."""
    params = {
        "token": token_digest(token),
        "key": key,
        "value": value,
        "phone": account_phone,
        "connected": Account.CONNECTED,
    }
    if kind == CONTACT:
        params["value"] = contact_jid(value)
    row = fetch_one(_sql(kind, bool(key), bool(account_phone)), params)
    return None if row is None else _target(row, kind, value)


# -- The statement ------------------------------------------------------------------------------

# The sending account when the request names none: the most recently connected one.
LATEST_FIRST = "ORDER BY {a}.last_connected_at DESC NULLS LAST, {a}.id DESC LIMIT 1"


@cache
def _sql(kind, with_key, with_phone):
    t = _tables()
    joins = [f"LEFT JOIN {t['balance']} b ON b.workspace_id = h.workspace_id"]
    key = "k.id, k.body_sha256, k.status, k.response, k.created_at"
    if with_key:
        joins.append(
            f"LEFT JOIN {t['key']} k ON k.workspace_id = h.workspace_id AND k.{t['key_col']} = "
            "%(key)s"
        )
    else:
        key = "NULL, NULL, NULL, NULL, NULL"
    joins += _target_joins(kind, with_phone, t)
    named = "NULL"
    if with_phone and kind in (GROUP, CHAT_NAME):
        named = f"(SELECT id FROM {t['account']} WHERE {_in_workspace('', 'named')})"
    another = "NULL"
    if kind == CHAT_NAME:
        another = f"({_chat_by_name(t, with_phone)} LIMIT 1 OFFSET 1)"
    if kind is None:
        account = user = chat = ", ".join(["NULL"] * 5)
        chat += ", NULL"
    else:
        joins.append(f"LEFT JOIN {t['user']} u ON u.id = a.connected_by_id")
        account = "a.id, a.phone, a.status, a.connected_by_id, a.workspace_id"
        user = "u.first_name, u.last_name, u.username, u.email, NULL"
        chat = "c.id, c.jid, c.name, c.phone, c.is_group, c.created_at"
    return (
        f"SELECT h.workspace_id, h.enabled, b.balance, {key}, {account}, {user}, {chat}, "
        f"{named}, {another} FROM {t['webhook']} h {' '.join(joins)} "
        "WHERE h.token_sha256 = %(token)s"
    )


def _in_workspace(alias, role):
    """Conditions for an account (table alias `alias`) of the webhook's workspace: `named`, the
    connected account given as whatsapp_account_phone; `sending`, connected and, when a phone was
    given, that one."""
    a = f"{alias}." if alias else ""
    base = f"{a}workspace_id = h.workspace_id AND {a}status = %(connected)s"
    if role == "named":
        return f"{base} AND {a}phone = %(phone)s"
    return base


def _target_joins(kind, with_phone, t):
    account, chat = t["account"], t["chat"]
    phone = " AND a2.phone = %(phone)s" if with_phone else ""
    if kind == CONTACT:
        return [
            f"LEFT JOIN {account} a ON a.id = (SELECT a2.id FROM {account} a2 WHERE "
            f"{_in_workspace('a2', 'sending')}{phone} {LATEST_FIRST.format(a='a2')})",
            f"LEFT JOIN {chat} c ON c.account_id = a.id AND c.jid = %(value)s",
        ]
    if kind == CHAT_ID:
        # The chat names its account; whatsapp_account_phone is ignored (I5).
        return [
            f"LEFT JOIN {chat} c ON c.id = %(value)s AND c.account_id IN "
            f"(SELECT a2.id FROM {account} a2 WHERE a2.workspace_id = h.workspace_id)",
            f"LEFT JOIN {account} a ON a.id = c.account_id",
        ]
    if kind == GROUP:
        # Any account of the workspace that is in the group, connected ones first, the most
        # recently connected first; only the named one when a phone was given.
        named = " AND a2.phone = %(phone)s AND a2.status = %(connected)s" if with_phone else ""
        return [
            f"LEFT JOIN {chat} c ON c.id = (SELECT c2.id FROM {chat} c2 JOIN {account} a2 ON "
            f"a2.id = c2.account_id WHERE a2.workspace_id = h.workspace_id AND c2.jid = %(value)s"
            f"{named} ORDER BY a2.status ASC, a2.last_connected_at DESC NULLS LAST, a2.id DESC "
            "LIMIT 1)",  # "connected" sorts before "disconnected"
            f"LEFT JOIN {account} a ON a.id = c.account_id",
        ]
    if kind == CHAT_NAME:
        return [
            f"LEFT JOIN {chat} c ON c.id = ({_chat_by_name(t, with_phone)} LIMIT 1)",
            f"LEFT JOIN {account} a ON a.id = c.account_id",
        ]
    return []


def _chat_by_name(t, with_phone):
    named = " AND a2.phone = %(phone)s AND a2.status = %(connected)s" if with_phone else ""
    return (
        f"SELECT c2.id FROM {t['chat']} c2 JOIN {t['account']} a2 ON a2.id = c2.account_id "
        f"WHERE a2.workspace_id = h.workspace_id AND c2.name = %(value)s{named} ORDER BY c2.id"
    )


def _tables():
    return {
        "webhook": table(InboundWebhook),
        "balance": table(Balance),
        "key": table(IdempotencyKey),
        "key_col": connection.ops.quote_name("key"),
        "account": table(Account),
        "chat": table(Chat),
        "user": table(get_user_model()),
    }


# -- The row, as model instances --------------------------------------------------------------


def _target(row, kind, value):
    workspace_id, enabled, balance = row[:3]
    key = _key(workspace_id, *row[3:8])
    account = _account(*row[8:13], user_row=row[13:18])
    chat = _chat(account, *row[18:24])
    if chat is None and kind == CONTACT and account is not None:
        chat = Chat(jid=contact_jid(value), account=account, **Chat.direct_defaults(value))
    named, another = row[24:26]
    return Target(
        workspace_id=workspace_id,
        enabled=bool(enabled),
        balance=balance or 0,
        key=key,
        account=account,
        chat=chat,
        named_account_found=named is not None,
        another_chat_id=another,
    )


def _key(workspace_id, pk, body_sha256, status, response, created_at):
    if pk is None:
        return None
    if isinstance(response, str):  # SQLite hands JSON back as text
        response = json.loads(response)
    key = IdempotencyKey(
        workspace_id=workspace_id,
        body_sha256=body_sha256,
        status=status,
        response=response,
        created_at=_aware(created_at),
    )
    return mark_saved(key, pk)


def _account(pk, phone, status, user_id, workspace_id, *, user_row):
    if pk is None:
        return None
    account = Account(id=pk, workspace_id=workspace_id, phone=phone, status=status)
    mark_saved(account, pk)
    if user_id is not None:  # the sender's name is the member's (Account.member_name)
        first, last, username, email, _ = user_row
        user = get_user_model()(
            id=user_id, first_name=first, last_name=last, username=username, email=email
        )
        account.connected_by = mark_saved(user, user_id)
    else:
        account.connected_by = None
    return account


def _chat(account, pk, jid, name, phone, is_group, created_at):
    if pk is None:
        return None
    chat = Chat(jid=jid, name=name, phone=phone, is_group=bool(is_group), account=account)
    chat.created_at = _aware(created_at)
    return mark_saved(chat, pk)


def _aware(moment):
    """A datetime from a raw row (SQLite hands back text or naive UTC) as an aware one."""
    if moment is None or getattr(moment, "tzinfo", None) is not None:
        return moment
    return DateTimeField().to_python(
        connection.ops.convert_datetimefield_value(moment, None, connection)
    )
