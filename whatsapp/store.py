"""The one path that stores a message, whatever its source: a transport's event, the inbound
webhook, the simulator. It fills in who sent it to whom and announces it."""

from django.db import transaction
from django.utils import timezone

from whatsapp.models import Message
from whatsapp.signals import message_stored


def _parties(chat, direction):
    """Default sender and recipient (name, phone) for a message in `chat`."""
    account = chat.account
    us = (account.member_name or account.phone, "" if chat.is_group else account.phone)
    them = (chat.name, chat.phone)  # a group has no phone: ""
    return (us, them) if direction == Message.SENT else (them, us)


def store_message(chat, *, direction, origin, created_chat=False, **fields):
    """Store one message of `chat` and announce it; returns the Message.

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
    # No savepoint inside a caller's transaction: a failure here fails the caller's whole unit
    # of work anyway, and the endpoint that queues messages counts its round trips.
    with transaction.atomic(savepoint=False):
        message = Message.objects.create(
            chat=chat, direction=direction, origin=origin, created_chat=created_chat, **fields
        )
        message_stored.send(sender=Message, message=message)
    return message
