"""Aggregated deliveries (O4): when a workspace's window closes, one bundle per chat.

Windows are aligned to UTC multiples of G hours. The tick claims a closed window with a
compare-and-swap on `window_end`, so one worker handles it however many run the tick. Messages
wait as PendingMessage rows; a window takes those with a timestamp before its end, which is also
the late-message rule: a message stored late joins the window its timestamp belongs to if that
window has not been bundled yet, otherwise it is older than the next window's end and joins the
next bundle. Bundling a batch of chats creates the deliveries and deletes their pending rows in
one transaction, so a crash loses nothing and repeats nothing.

Sending a window now (the Outbound page's button, `outbound_webhook WORKSPACE --flush`) is the
same claim with the cut moved to now: the window's messages so far are bundled at once and the
next window runs from now to the next aligned end, so alignment is kept.

Queries are per batch of chats (distinct chats, their pending messages, the chats, one bulk
insert, one delete), never per message.
"""

from collections import namedtuple
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import Value
from django.utils import timezone

from webhooks.outbound import payloads
from webhooks.outbound.models import (
    NONE,
    Delivery,
    OutboundWebhook,
    PendingMessage,
    window_end_after,
)
from whatsapp.models import Account, Chat

# What a bundle needs of a message, read as plain rows: building 100,000 model instances would
# cost more than everything else together.
ROW_FIELDS = [
    "message_id",
    "direction",
    "timestamp",
    "sender_name",
    "sender_phone",
    "recipient_name",
    "recipient_phone",
    "text",
    "created_chat",
]
Row = namedtuple("Row", ["pk", "chat_id", *ROW_FIELDS])

CHATS_PER_BATCH = 500
MAX_BUNDLE = 500  # messages per request; a larger bundle is split
DELETE_CHUNK = 5000


def close_due_windows(now=None):
    """Bundle every window that has closed; returns the number of deliveries made."""
    now = now or timezone.now()
    made = 0
    while True:
        due = list(
            OutboundWebhook.objects.filter(window_end__lte=now).values_list("pk", "window_end")
        )
        if not due:
            return made
        for webhook_id, window_end in due:
            made += close_window(webhook_id, window_end)


def close_window(webhook_id, window_end, cut=None):
    """Advance the webhook past `window_end` (if nobody else did) and bundle that window, or,
    with `cut` (earlier than `window_end`), only its messages before `cut`, the window then
    closing at `cut`."""
    cut = cut or window_end
    webhook = OutboundWebhook.objects.get(pk=webhook_id)
    window_start = webhook.window_start
    # The granularity chosen now applies from the next window on.
    following = None if webhook.granularity == NONE else window_end_after(cut, webhook.granularity)
    won = OutboundWebhook.objects.filter(pk=webhook_id, window_end=window_end).update(
        window_start=cut if following else None, window_end=following
    )
    if not won:
        return 0
    return bundle_window(webhook, window_start, cut)


def send_window_now(webhook, now=None):
    """Close the webhook's open window now and bundle it; returns the number of deliveries made,
    or None when no window is open (the webhook does not aggregate). The caller wakes the
    dispatcher (webhooks.outbound.dispatch.wake) to send them."""
    webhook.refresh_from_db(fields=["window_start", "window_end", "granularity"])
    if webhook.window_end is None:
        return None
    # Windows end before their end instant: the cut just after now takes a message stored now.
    cut = (now or timezone.now()) + timedelta(microseconds=1)
    return close_window(webhook.pk, webhook.window_end, cut=min(cut, webhook.window_end))


def bundle_window(webhook, window_start, window_end):
    made = 0
    while True:
        created = bundle_batch(webhook, window_start, window_end)
        if created is None:
            return made
        made += created


def bundle_batch(webhook, window_start, window_end, size=None):
    """Bundle the next `size` chats with messages waiting; None when there are none left."""
    size = size or CHATS_PER_BATCH
    waiting = PendingMessage.objects.filter(webhook=webhook, timestamp__lt=window_end)
    with transaction.atomic():
        chat_ids = list(
            waiting.order_by("chat_id").values_list("chat_id", flat=True).distinct()[:size]
        )
        if not chat_ids:
            return None
        items = [
            Row._make(values)
            for values in waiting.filter(chat_id__in=chat_ids)
            .order_by("chat_id", "timestamp", "message_id")
            .values_list("pk", "chat_id", *[f"message__{name}" for name in ROW_FIELDS])
        ]
        chats = load_chats(chat_ids)
        deliveries = list(build_deliveries(webhook, chats, items, window_start, window_end))
        Delivery.objects.bulk_create(deliveries, batch_size=500)
        delete_pending([item.pk for item in items])
    return len(deliveries)


def load_chats(chat_ids):
    """The batch's chats, each account (and who connected it) loaded once, not once per chat."""
    chats = Chat.objects.select_related("responsible").in_bulk(chat_ids)
    account_ids = {chat.account_id for chat in chats.values()}
    accounts = Account.objects.select_related("connected_by").in_bulk(account_ids)
    for chat in chats.values():
        chat.account = accounts[chat.account_id]
    return chats


def delete_pending(ids):
    """Delete exactly the rows that were bundled (never "all of these chats before the window's
    end": a late message parked meanwhile must wait for the next bundle, not vanish). Plain SQL:
    the ORM would spend longer checking a hundred thousand ids than the database deleting them."""
    table = connection.ops.quote_name(PendingMessage._meta.db_table)
    with connection.cursor() as cursor:
        for start in range(0, len(ids), DELETE_CHUNK):
            chunk = ids[start : start + DELETE_CHUNK]
            if connection.vendor == "postgresql":
                # One array parameter: psycopg parses a query with thousands of placeholders
                # anew each time, which costs more than the DELETE.
                cursor.execute(f"DELETE FROM {table} WHERE id = ANY(%s)", [chunk])
            else:
                marks = ", ".join(["%s"] * len(chunk))
                cursor.execute(f"DELETE FROM {table} WHERE id IN ({marks})", chunk)


def build_deliveries(webhook, chats, items, window_start, window_end):
    # Bodies as Values on PostgreSQL: bulk_create would otherwise send the batch's bodies as one
    # text array, whose quotes psycopg escapes one regular expression match at a time (that was
    # most of the time it took to bundle there).
    postgres = connection.vendor == "postgresql"
    by_chat = {}
    for item in items:
        by_chat.setdefault(item.chat_id, []).append(item)
    for chat_id, messages in by_chat.items():
        chat = chats[chat_id]
        is_new = _created_in_window(chat, messages, window_start, window_end)
        for start in range(0, len(messages), MAX_BUNDLE):
            part = messages[start : start + MAX_BUNDLE]
            body = payloads.encode(payloads.bundle_payload(chat, part, is_new))
            yield Delivery(
                webhook=webhook,
                kind=Delivery.BUNDLE,
                chat_id=chat_id,
                message_count=len(part),
                body=Value(body) if postgres else body,
            )


def _created_in_window(chat, messages, window_start, window_end):
    if any(m.created_chat for m in messages):
        return True
    return window_start is not None and window_start <= chat.created_at < window_end
