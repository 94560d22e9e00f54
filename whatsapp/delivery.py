"""Delivery reports about messages we sent: sent -> delivered -> read, or failed.

Whatever transport reports them, a report only ever moves a message forward, so WAHA's retries
and out-of-order acks are harmless.

A report can outrun the paced sender: WAHA answers sendText, and its acks (delivered, even read)
may arrive before the sender has recorded that answer and marked the message `sent`. Such a
report is about a message still `sending` (its id known from the echo of the message), or about
an id nobody knows yet (the answer not recorded). It is remembered (EarlyAck) and applied by the
sender right after it records the send, through the same `record_delivery` as any other report:
so the message goes sent -> delivered -> read in that order, is announced once (when it becomes
sent), and stays failed if the send failed. Why not let the report move a `sending` message
itself: the sender records its sends in one statement per batch without re-reading them, and
would write `sent` over it; the sender stays the only writer of a message it holds.
"""

from datetime import timedelta

from django.db import transaction
from django.db.models import OuterRef, Subquery

from credits.models import refund
from timelines.metrics import MESSAGES_FAILED, after_commit
from whatsapp.models import Account, EarlyAck, Message
from whatsapp.status import move

RANK = {Message.SENT: 1, Message.DELIVERED: 2, Message.READ: 3}
STAMPS = {Message.SENT: "sent_at", Message.DELIVERED: "delivered_at", Message.READ: "read_at"}
UNDELIVERED = "WhatsApp reported that the message could not be delivered."
# A send is recorded within the transport's timeout plus the sender's lease (about a minute); an
# early report still unmatched after this was about a send that failed, or about another message.
EARLY_ACKS_KEPT = timedelta(hours=1)


def report_delivery(account, external_id, status, at):
    """A transport reports that the account's message it knows as `external_id` reached
    `status` at `at`. Returns 'updated', 'unchanged', 'remembered' (for the sender to apply) or
    'ignored' (no such message, and none being sent)."""
    with transaction.atomic():
        # The sender records a send (its status, its id) holding the account's row lock
        # (Dispatcher.settle). Holding it here too, a report either finds the send recorded or
        # is remembered before the sender looks for reports to apply: none falls in between.
        Account.objects.select_for_update(of=("self",), no_key=True).filter(pk=account.pk).first()
        message = Message.objects.filter(
            account=account, external_id=external_id, direction=Message.SENT
        ).first()
        if message is None or message.status in (Message.QUEUED, Message.SENDING):
            return _remember(account, message, external_id, status, at)
        return "updated" if record_delivery(message, status, at) else "unchanged"


def _remember(account, message, external_id, status, at):
    # An id we do not know may be that of the message being sent, whose answer is not recorded.
    sending = Message.objects.filter(account=account, status=Message.SENDING)
    if message is None and not sending.exists():
        return "ignored"
    EarlyAck.objects.create(account=account, external_id=external_id, status=status, at=at)
    return "remembered"


def apply_early_acks(message_ids):
    """Apply the reports that arrived while these messages, just recorded as sent, were being
    sent; then forget them. Call inside the transaction that recorded the sends."""
    sent = Message.objects.filter(
        pk__in=message_ids,
        account_id=OuterRef("account_id"),
        external_id=OuterRef("external_id"),
    )
    early = EarlyAck.objects.annotate(message_pk=Subquery(sent.values("pk")[:1]))
    early = list(early.filter(message_pk__isnull=False))
    # In the order of the statuses, failed last: as if they had arrived after the send was
    # recorded, each a step forward (an ERROR ack fails even a read message, as it does then).
    for ack in sorted(early, key=lambda ack: (RANK.get(ack.status, len(RANK) + 1), ack.at)):
        record_delivery(Message(pk=ack.message_pk), ack.status, ack.at)
    if early:
        EarlyAck.objects.filter(pk__in=[ack.pk for ack in early]).delete()


def forget_early_acks(now):
    """Forget the early reports that never met their send; returns how many."""
    return EarlyAck.objects.filter(received_at__lt=now - EARLY_ACKS_KEPT).delete()[0]


def record_delivery(message, status, at):
    """Move `message` to `status` (sent, delivered, read or failed) as of `at`; True if it
    changed. A failed message is refunded once. Queued and sending messages belong to the paced
    sender, which settles them itself: a report about them changes nothing here."""
    with transaction.atomic():
        # Locked, so that the timestamps filled in below are read from the row as it stays.
        message = Message.objects.select_for_update(of=("self",), no_key=True).get(pk=message.pk)
        previous = message.status
        if previous not in RANK or not _moves_forward(previous, status):
            return False
        if not move([message], status, [previous], _stamp(message, status, at)):
            return False
        if status == Message.FAILED:
            refund(message.chat.workspace, message.message_id, reason=UNDELIVERED)
            after_commit(MESSAGES_FAILED.labels("undelivered").inc)
    return True


def _moves_forward(previous, status):
    return status == Message.FAILED or RANK.get(status, 0) > RANK[previous]


def _stamp(message, status, at):
    """Set the status's timestamp; reading implies delivery, so fill in what was missed.
    Returns the fields set."""
    if status == Message.FAILED:
        message.error, message.failed_at = UNDELIVERED, at
        return ["error", "failed_at"]
    fields = []
    for step, rank in RANK.items():
        stamp = STAMPS[step]
        if rank <= RANK[status] and getattr(message, stamp) is None:
            setattr(message, stamp, at)
            fields.append(stamp)
    return fields
