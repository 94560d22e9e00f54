"""Webhooks v2 events (SPEC W2), from the signals of the whatsapp app. Every receiver runs inside
the transaction that made the change, so the event row and its deliveries commit or roll back
with it: an event is never lost, and never emitted for a change that rolled back.

Messages are announced at the same moments as v1 (webhooks.outbound.events): received ones when
stored, ours when WhatsApp accepted them; attachments included. A received (or phone-typed)
message with a file waits for its file: it is announced when the file is stored or found
unavailable, so that the payload's size is right and its link serves the file."""

from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone

from webhooks.endpoints import event_types as types
from webhooks.endpoints import payloads
from webhooks.endpoints.models import Endpoint, Event
from webhooks.outbound import dispatch
from webhooks.outbound.events import new_when_changed, new_when_stored
from webhooks.outbound.models import Delivery
from whatsapp.models import Message
from whatsapp.signals import (
    account_paused,
    account_resumed,
    account_status_changed,
    chat_created,
    chat_responsible_changed,
    media_settled,
    message_status_changed,
    message_stored,
    messages_held,
)

REPORTED_STATUSES = (Message.DELIVERED, Message.READ, Message.FAILED)


@receiver(message_stored, dispatch_uid="endpoints-message-stored")
def on_message_stored(sender, message, **kwargs):
    if new_when_stored(message) and not message.file_follows:
        _message_new(message)


@receiver(media_settled, dispatch_uid="endpoints-media-settled")
def on_media_settled(sender, message, **kwargs):
    """A received file was stored (or found unavailable): its message is news now, with the
    file's size in the payload and a link that serves it (SPEC M4)."""
    if new_when_stored(message):
        _message_new(message)


@receiver(message_status_changed, dispatch_uid="endpoints-status-changed")
def on_status_changed(sender, changes, **kwargs):
    """A batch of status changes (the paced sender records its sends together): one query finds
    the endpoints of every workspace concerned, and only when one of the changes is an event."""
    news = [message for message, previous in changes if new_when_changed(message, previous)]
    reported = [
        (message, previous)
        for message, previous in changes
        if message.status in REPORTED_STATUSES and message.status != previous
    ]
    if not news and not reported:
        return
    endpoints = subscribers({message.chat.account.workspace_id for message, _ in changes})
    for message in news:
        _message_new(message, endpoints)
    for message, previous in reported:
        chat = message.chat
        emit(
            chat.account,
            types.MESSAGE_STATUS_CHANGED,
            lambda message=message, previous=previous: payloads.status_payload(message, previous),
            chat_id=chat.pk,
            message_id=message.pk,
            endpoints=endpoints,
        )


@receiver(chat_created, dispatch_uid="endpoints-chat-created")
def on_chat_created(sender, chat, direction, **kwargs):
    emit(chat.account, types.chat_created(direction), lambda: payloads.chat_payload(chat), chat.pk)


@receiver(chat_responsible_changed, dispatch_uid="endpoints-chat-responsible")
def on_responsible_changed(sender, chat, previous, **kwargs):
    kind = types.CHAT_ASSIGNED if chat.responsible_id else types.CHAT_UNASSIGNED
    emit(chat.account, kind, lambda: payloads.chat_payload(chat), chat.pk)


@receiver(account_status_changed, dispatch_uid="endpoints-account-status")
def on_account_status_changed(sender, account, previous, reason="", **kwargs):
    if account.status == previous:
        return
    kind = types.ACCOUNT_CONNECTED if account.is_connected else types.ACCOUNT_DISCONNECTED
    emit(account, kind, lambda: payloads.account_payload(account, reason, timezone.now()))


@receiver(account_paused, dispatch_uid="endpoints-account-paused")
def on_account_paused(sender, account, reason="", **kwargs):
    payload = payloads.pause_payload(account, reason, timezone.now())
    emit(account, types.ACCOUNT_PAUSED, lambda: payload)


@receiver(account_resumed, dispatch_uid="endpoints-account-resumed")
def on_account_resumed(sender, account, reason="", **kwargs):
    payload = payloads.pause_payload(account, reason, timezone.now())
    emit(account, types.ACCOUNT_RESUMED, lambda: payload)


@receiver(messages_held, dispatch_uid="endpoints-messages-held")
def on_messages_held(sender, messages, **kwargs):
    """G2: a message the governor held as it was about to be sent is announced as a status
    event: still `queued`, with `waiting`."""
    endpoints = subscribers({message.chat.account.workspace_id for message in messages})
    for message in messages:
        emit(
            message.chat.account,
            types.MESSAGE_STATUS_CHANGED,
            lambda message=message: payloads.status_payload(message, Message.QUEUED),
            chat_id=message.chat_id,
            message_id=message.pk,
            endpoints=endpoints,
        )


def _message_new(message, endpoints=None):
    chat = message.chat
    emit(
        chat.account,
        types.message_new(message.direction),
        lambda: payloads.message_payload(message),
        chat_id=chat.pk,
        message_id=message.pk,
        endpoints=endpoints,
    )


def subscribers(workspace_ids):
    """{workspace id: its endpoints}, in one query (a workspace has at most a handful)."""
    found = {}
    for endpoint in Endpoint.objects.filter(workspace_id__in=workspace_ids):
        found.setdefault(endpoint.workspace_id, []).append(endpoint)
    return found


def emit(account, kind, build, chat_id=None, message_id=None, endpoints=None):
    """Write the event and one delivery per enabled endpoint subscribed to it; nothing at all
    when no endpoint of the workspace is subscribed (a disabled one still gets the event row, so
    a replay can send it later). A fixed number of queries, however many endpoints; none to find
    them when `endpoints` (from `subscribers`) already has the workspace's."""
    if endpoints is None:
        endpoints = subscribers([account.workspace_id])
    kinds = types.subscriptions(kind)
    subscribed = [
        endpoint
        for endpoint in endpoints.get(account.workspace_id, [])
        if endpoint.event_type in kinds and endpoint.account_id in (None, account.pk)
    ]
    if not subscribed:
        return None
    payload = build()
    event = Event.objects.create(
        workspace_id=account.workspace_id,
        kind=kind,
        account=account,
        chat_id=chat_id,
        message_id=message_id,
        payload=payload,
    )
    deliveries = [delivery_for(endpoint, event) for endpoint in subscribed if endpoint.enabled]
    if deliveries:
        Delivery.objects.bulk_create(deliveries)
        dispatch.wake_on_commit()
    return event


def delivery_for(endpoint, event, payload=None):
    """An unsaved delivery of `event` to `endpoint`, with the event's webhook-id."""
    return Delivery(
        endpoint=endpoint,
        kind=Delivery.EVENT,
        chat_id=event.chat_id,
        source_event=event,
        event_id=event.webhook_id,
        body=payloads.body(endpoint.event_type, payload or event.payload),
    )


def replay(endpoint, since):
    """W5 "Replay since…": new deliveries to `endpoint` of every event it subscribes to since
    `since` (events are kept LOG_DAYS), oldest first, each with the event's own webhook-id so the
    receiver can recognise what it already has; attachment links are fresh. Returns how many."""
    kinds = [kind for kind in types.ALL if endpoint.event_type in types.subscriptions(kind)]
    events = Event.objects.filter(
        workspace_id=endpoint.workspace_id, kind__in=kinds, created_at__gte=since
    ).order_by("created_at", "pk")
    if endpoint.account_id:
        events = events.filter(account_id=endpoint.account_id)
    deliveries = [
        delivery_for(endpoint, event, payloads.refresh_links(event.payload, event.message_id))
        for event in events.iterator()
    ]
    with transaction.atomic():
        Delivery.objects.bulk_create(deliveries, batch_size=500)
        dispatch.wake_on_commit()
    return len(deliveries)
