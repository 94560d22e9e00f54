"""What the paced sender asks the governor about the messages it has just claimed, inside the
claim's transaction: nothing for an account with no policy on; for one whose policy concerns
new contacts, one query per batch finds which heads go to a new contact, and those that may not
go now are set aside (held) without a send attempt.

A chat is new when no message was ever exchanged in it (none received, none of ours accepted by
WhatsApp), or when a message of it is held already: a chat's messages leave in their order.
"""

from django.db import connection
from django.utils import timezone

from whatsapp.governor.policy import (
    ACCOUNT_PAUSED,
    NEW_CONTACT_LIMIT,
    governs_new_contacts,
    local_day,
    new_contacts_left,
    next_day,
    pause_active,
)
from whatsapp.models import PAUSE_ALL, PAUSE_NEW_CONTACTS, Account, Chat, Message
from whatsapp.signals import messages_held

EXCHANGED = ("sent", "delivered", "read")


def quote(name):
    return connection.ops.quote_name(name)


def new_chats(chat_ids):
    """Of `chat_ids` (direct chats), the ones that count as a new contact, in one query."""
    if not chat_ids:
        return set()
    messages, chats = quote(Message._meta.db_table), quote(Chat._meta.db_table)
    marks = ", ".join(["%s"] * len(chat_ids))
    exchanged = ", ".join(f"'{status}'" for status in EXCHANGED)
    sql = (
        f"SELECT c.id FROM {chats} c WHERE c.id IN ({marks}) AND ("
        f"NOT EXISTS (SELECT 1 FROM {messages} m WHERE m.chat_id = c.id AND "
        f"(m.direction = 'received' OR m.status IN ({exchanged}))) "
        f"OR EXISTS (SELECT 1 FROM {messages} h WHERE h.account_id = c.account_id "
        "AND h.chat_id = c.id AND h.status = 'queued' AND NOT (h.hold_reason = '')))"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, list(chat_ids))
        return {row[0] for row in cursor.fetchall()}


def screen(jobs, now):
    """Split the claimed `jobs` into (those that may be sent, those held now). Jobs to a new
    contact that go are marked (`new_contact`, and `check_number` when its number is to be
    checked first)."""
    governed = [
        job
        for job in jobs
        if not job.message.chat.is_group and governs_new_contacts(job.message.chat.account, now)
    ]
    new = new_chats([job.message.chat_id for job in governed])
    go, held = [], []
    for job in jobs:
        chat = job.message.chat
        if chat.pk not in new or job not in governed:
            go.append(job)
            continue
        hold = new_contact_hold(chat.account, now)
        if hold is None:
            job.new_contact = True
            job.check_number = chat.account.check_numbers and chat.number_exists is None
            go.append(job)
        else:
            job.message.hold_reason, job.message.hold_until = hold
            held.append(job)
    set_aside([job.message for job in held])
    return go, held


def new_contact_hold(account, now):
    """(reason, until) when a first message to a new contact may not go now, else None."""
    if pause_active(account, now, PAUSE_NEW_CONTACTS):
        return ACCOUNT_PAUSED, account.paused_until
    left = new_contacts_left(account, now)
    if left is not None and left <= 0:
        return NEW_CONTACT_LIMIT, next_day(account, now)
    return None


def set_aside(messages):
    """Hold `messages` (still queued): out of the sender's index until released; announced."""
    for message in messages:
        Message.objects.filter(pk=message.pk, status=Message.QUEUED).update(
            hold_reason=message.hold_reason, hold_until=message.hold_until
        )
        message.waiting = {"reason": message.hold_reason, "until": message.hold_until}
    if messages:
        messages_held.send(sender=Message, messages=messages)


def after_sends(outcomes):
    """What the sends taught the governor, in the transaction that records them: new contacts
    counted, numbers checked, and the accounts WhatsApp restricted paused (after the sender let
    go of them, so the pause has the last word on when the account is next due)."""
    from whatsapp.governor import pauses

    new = [o.job.message.chat.account for o in outcomes if o.ok and o.job.new_contact]
    count_new_contacts(new)
    for outcome in outcomes:
        message = outcome.job.message
        if outcome.number_exists is not None:
            Chat.objects.filter(pk=message.chat_id).update(number_exists=outcome.number_exists)
        restriction = outcome.restriction
        if restriction is None:
            continue
        scope, until = restriction.scope, restriction.until
        pauses.pause(outcome.job.account_id, scope, until, restriction.message, outcome.at)
        if message.status != Message.QUEUED:
            continue  # it had moved on (a late outcome): nothing to hold
        if scope == PAUSE_ALL:
            announce_held(message, ACCOUNT_PAUSED, until)
        else:
            # Held itself, whatever we think of its chat: WhatsApp counts it as a new chat.
            message.hold_reason, message.hold_until = ACCOUNT_PAUSED, until
            set_aside([message])


def count_new_contacts(accounts, now=None):
    """Count a first message to a new contact sent by each of `accounts` (in the transaction
    that records the sends): the daily cap's count, per day in the account's zone."""
    now = now or timezone.now()
    table = quote(Account._meta.db_table)
    rows = []
    for account in accounts:
        day = local_day(account, now)
        rows.append([day, day, account.pk])
    if rows:
        with connection.cursor() as cursor:
            cursor.executemany(
                f"UPDATE {table} SET new_contacts_sent = CASE WHEN new_contacts_day = %s "
                "THEN new_contacts_sent + 1 ELSE 1 END, new_contacts_day = %s WHERE id = %s",
                rows,
            )


def announce_held(message, reason, until):
    """The message that met a restriction is queued again: say so (the v2 status event)."""
    message.waiting = {"reason": reason, "until": until}
    messages_held.send(sender=Message, messages=[message])
