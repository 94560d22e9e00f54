"""Queueing a message to send: store it as `queued` and reserve its credits in one transaction,
then wake the paced sender for its account once that transaction has committed."""

from django.db import transaction
from django.utils import timezone

from credits.models import refund, reserve
from whatsapp import sender
from whatsapp.models import Message, new_message_id
from whatsapp.status import move
from whatsapp.store import new_message, store


def message_cost(text, has_attachment):
    """I10: 1 credit a message, 2 when it has non-empty text and an attachment."""
    return 2 if has_attachment and (text or "").strip() else 1


def queued_message(
    chat,
    *,
    text="",
    origin,
    attachment_url="",
    attachment_name="",
    created_chat=False,
    message_id=None,
    send_at=None,
    expires_at=None,
):
    """The unsaved message `queue_message` stores; its `credits` are what it costs. With a
    future `send_at` it is `scheduled` until then (G5; the paced sender queues it then:
    whatsapp.sender.scheduled); one not handed to WhatsApp by `expires_at` fails as expired."""
    return new_message(
        chat,
        direction=Message.SENT,
        origin=origin,
        created_chat=created_chat,
        message_id=message_id or new_message_id(),
        text=text or "",
        attachment_url=attachment_url,
        attachment_name=attachment_name,
        status=Message.SCHEDULED if send_at else Message.QUEUED,
        queued_at=None if send_at else timezone.now(),
        send_at=send_at,
        expires_at=expires_at,
        credits=message_cost(text, bool(attachment_url)),
    )


def cancel(message):
    """G5: cancel a scheduled or queued message and refund its credits, at once; returns the
    credits refunded, or None when it had moved on (sending begun, sent, failed, cancelled). A
    compare-and-swap on the status: a dispatcher that marks it `sending` at the same moment and
    this cancel never both win, so it is either cancelled and refunded or sent, never both."""
    message.error = "Cancelled by the integration."
    with transaction.atomic():
        expected = [Message.SCHEDULED, Message.QUEUED]
        if not move([message], Message.CANCELLED, expected, ["error"]):
            return None
        return refund(message.chat.account.workspace, message.message_id, reason="Cancelled")


def queue_message(chat, **fields):
    """Queue a message for sending (fields as for `queued_message`); raises
    credits.models.QuotaExceeded and stores nothing when the workspace's balance is short.

    Inside a caller's transaction there is no savepoint (two round trips fewer per message):
    after QuotaExceeded, that transaction must be rolled back.
    """
    message = queued_message(chat, **fields)
    with transaction.atomic(savepoint=False):
        store(message)
        # Credits last: the balance row stays locked until commit, so concurrent requests of one
        # workspace queue up on it for as short a time as possible.
        reserve(chat.account.workspace, message.credits, message.message_id)
        account_id = chat.account_id
        transaction.on_commit(lambda: sender.wake(account_id))
    return message
