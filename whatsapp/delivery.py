"""Delivery reports about messages we sent: sent -> delivered -> read, or failed.

Whatever transport reports them, a report only ever moves a message forward, so WAHA's retries
and out-of-order acks are harmless. Queued and sending messages belong to the paced sender,
which settles them itself; a report about them is ignored.
"""

from django.db import transaction

from credits.models import refund
from whatsapp.models import Message
from whatsapp.signals import message_status_changed

RANK = {Message.SENT: 1, Message.DELIVERED: 2, Message.READ: 3}
STAMPS = {Message.SENT: "sent_at", Message.DELIVERED: "delivered_at", Message.READ: "read_at"}
UNDELIVERED = "WhatsApp reported that the message could not be delivered."


def record_delivery(message, status, at):
    """Move `message` to `status` (sent, delivered, read or failed) as of `at`; True if it
    changed. A failed message is refunded once."""
    with transaction.atomic():
        message = Message.objects.select_for_update().get(pk=message.pk)
        previous = message.status
        if previous not in RANK or not _moves_forward(previous, status):
            return False
        fields = _apply(message, status, at)
        message.save(update_fields=fields)
        if status == Message.FAILED:
            refund(message.chat.workspace, message.message_id, reason=UNDELIVERED)
        message_status_changed.send(sender=Message, message=message, previous=previous)
    return True


def _moves_forward(previous, status):
    return status == Message.FAILED or RANK.get(status, 0) > RANK[previous]


def _apply(message, status, at):
    """Set the status and its timestamp; reading implies delivery, so fill in what was missed."""
    message.status = status
    if status == Message.FAILED:
        message.error, message.failed_at = UNDELIVERED, at
        return ["status", "error", "failed_at"]
    fields = ["status"]
    for step, rank in RANK.items():
        stamp = STAMPS[step]
        if rank <= RANK[status] and getattr(message, stamp) is None:
            setattr(message, stamp, at)
            fields.append(stamp)
    return fields
