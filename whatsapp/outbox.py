"""Queueing a message to send: store it as `queued` and reserve its credits in one transaction,
then wake the paced sender for its account once that transaction has committed."""

from django.db import transaction
from django.utils import timezone

from credits.models import reserve
from whatsapp import sender
from whatsapp.models import Message, new_message_id
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
):
    """The unsaved message `queue_message` stores; its `credits` are what it costs."""
    return new_message(
        chat,
        direction=Message.SENT,
        origin=origin,
        created_chat=created_chat,
        message_id=message_id or new_message_id(),
        text=text or "",
        attachment_url=attachment_url,
        attachment_name=attachment_name,
        status=Message.QUEUED,
        queued_at=timezone.now(),
        credits=message_cost(text, bool(attachment_url)),
    )


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
