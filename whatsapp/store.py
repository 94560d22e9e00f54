"""The one way a message is stored, whatever its source: a transport's event, the inbound
webhook, the simulator. It fills in who sent it to whom and announces it.

`new_message` builds the row, `store` inserts it and `announce`s it to the apps above;
`store_message` is the two in one call. The inbound endpoint (webhooks.inbound.write) inserts
the row `new_message` built in its own single statement, then announces it the same way.
"""

from django.db import transaction
from django.utils import timezone

from timelines.metrics import MESSAGES_RECEIVED, after_commit
from whatsapp.models import Message
from whatsapp.signals import message_stored


def _parties(chat, direction):
    """Default sender and recipient (name, phone) for a message in `chat`."""
    account = chat.account
    us = (account.member_name or account.phone, "" if chat.is_group else account.phone)
    them = (chat.name, chat.phone)  # a group has no phone: ""
    return (us, them) if direction == Message.SENT else (them, us)


def new_message(chat, *, direction, origin, created_chat=False, **fields):
    """An unsaved message of `chat`.

    `fields` are Message fields (text, timestamp, external_id, sender_name, status, ...); sender and
    recipient default to the account and the chat according to the direction.
    """
    (sender_name, sender_phone), (recipient_name, recipient_phone) = _parties(chat, direction)
    fields.setdefault("sender_name", sender_name)
    fields.setdefault("sender_phone", sender_phone)
    fields.setdefault("recipient_name", recipient_name)
    fields.setdefault("recipient_phone", recipient_phone)
    fields.setdefault("timestamp", timezone.now())
    if chat.is_group:
        # Payloads carry empty phones in group chats (seed 004): the participant's name is kept.
        fields["sender_phone"] = fields["recipient_phone"] = ""
    return Message(
        chat=chat,
        account_id=chat.account_id,
        direction=direction,
        origin=origin,
        created_chat=created_chat,
        **fields,
    )


def announce(message):
    """Tell the apps above that `message` was stored; call inside the transaction that stored it."""
    message_stored.send(sender=Message, message=message)


def store(message):
    """Insert a message `new_message` built and announce it; returns it."""
    # No savepoint inside a caller's transaction: a failure here fails the caller's whole unit
    # of work anyway, and the endpoint that queues messages counts its round trips.
    with transaction.atomic(savepoint=False):
        message.save(force_insert=True)
        announce(message)
        if message.direction == Message.RECEIVED:
            after_commit(MESSAGES_RECEIVED.inc)
    return message


def store_message(chat, *, direction, origin, created_chat=False, **fields):
    """Store one message of `chat` and announce it; returns the Message (see new_message)."""
    return store(
        new_message(chat, direction=direction, origin=origin, created_chat=created_chat, **fields)
    )
