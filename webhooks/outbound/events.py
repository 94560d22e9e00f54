"""Which messages are announced, and when (O2).

- Received messages, and messages stored already sent (typed on the phone, echoed by a
  transport), are announced when stored.
- Messages we queue ourselves (inbound webhook, web UI) are announced when they become `sent`:
  until then they may still fail (not on WhatsApp, attachment refused), and a CRM must not log a
  message that never reached WhatsApp. A message that fails is never announced.

Both announcements arrive inside the transaction that made the change, so the delivery row (or
the pending-aggregation row) commits or rolls back with the message itself.
"""

from django.dispatch import receiver

from webhooks.outbound import dispatch, payloads
from webhooks.outbound.models import Delivery, OutboundWebhook, PendingMessage
from whatsapp.models import Message
from whatsapp.signals import message_status_changed, message_stored

ON_THEIR_WAY = (Message.QUEUED, Message.SENDING)
GONE_OUT = (Message.SENT, Message.DELIVERED, Message.READ)


def new_when_stored(message):
    """A stored message is news at once when it was received, or sent already (typed on the
    phone); one we are still to send is news when it goes out, and a failed one never is."""
    return message.direction == Message.RECEIVED or message.status not in ON_THEIR_WAY + (
        Message.FAILED,
    )


def new_when_changed(message, previous):
    """The first step out of queued/sending into sent (or straight to delivered/read when a
    transport's acknowledgement overtakes its answer) is the moment the message exists."""
    return previous in ON_THEIR_WAY and message.status in GONE_OUT


@receiver(message_stored, dispatch_uid="outbound-message-stored")
def on_message_stored(sender, message, **kwargs):
    if new_when_stored(message):
        announce([message])


@receiver(message_status_changed, dispatch_uid="outbound-status-changed")
def on_status_changed(sender, changes, **kwargs):
    announce([message for message, previous in changes if new_when_changed(message, previous)])


def announce(messages):
    """Make the delivery for each message, or park it for its aggregation window; one query
    finds the webhooks of all their workspaces (the paced sender announces its sends in
    batches). Nothing happens when a workspace's webhook is off: messages stored while disabled
    are not sent."""
    if not messages:
        return
    workspaces = {message.chat.account.workspace_id for message in messages}
    webhooks = {
        webhook.workspace_id: webhook
        for webhook in OutboundWebhook.objects.filter(workspace_id__in=workspaces, enabled=True)
    }
    for message in messages:
        webhook = webhooks.get(message.chat.account.workspace_id)
        if webhook is None:
            continue
        if message.has_attachment:
            webhook.count_skipped()
        elif webhook.is_aggregating:
            park(webhook, message)
        else:
            deliver(webhook, message)


def park(webhook, message):
    PendingMessage.objects.get_or_create(
        message=message,
        defaults={"webhook": webhook, "chat_id": message.chat_id, "timestamp": message.timestamp},
    )


def deliver(webhook, message):
    if Delivery.objects.filter(message=message, redelivery_of=None).exists():
        return  # announced already (a repeated status change)
    Delivery.objects.create(
        webhook=webhook,
        kind=Delivery.MESSAGE,
        chat_id=message.chat_id,
        message=message,
        body=payloads.encode(payloads.message_payload(message)),
    )
    # A prompt nudge; the every-minute tick is the safety net if this one is lost.
    dispatch.wake_on_commit()
