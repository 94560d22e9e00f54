"""The endpoint WAHA posts its events to: /whatsapp/waha/<secret>/, one secret per connection.

validate (secret URL, HMAC-SHA512 of the raw body) -> parse (JSON envelope) -> dispatch (a dict
from event type to handler). Unknown events are acknowledged and logged, so WAHA does not retry
them; duplicates are harmless because messages are matched by WhatsApp's id and statuses only
move forward.
"""

import hashlib
import hmac
import json
import logging
from pathlib import PurePosixPath
from urllib.parse import urlsplit

from django.db import transaction
from django.http import Http404, JsonResponse
from django.utils.crypto import constant_time_compare
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from whatsapp.delivery import record_delivery
from whatsapp.jids import InvalidJid, is_group_jid
from whatsapp.models import Account, Chat, Message, WahaConnection
from whatsapp.phones import InvalidPhone
from whatsapp.store import store_message
from whatsapp.transports.waha import (
    WahaClient,
    from_timestamp,
    message_key,
    our_jid,
    phone_of,
)

log = logging.getLogger(__name__)

# WAHA's acks (ackName, or the number in `ack`) -> our statuses; PENDING says nothing new.
ACKS = {
    "ERROR": Message.FAILED,
    "SERVER": Message.SENT,
    "DEVICE": Message.DELIVERED,
    "READ": Message.READ,
    "PLAYED": Message.READ,
}
ACK_NAMES = {-1: "ERROR", 0: "PENDING", 1: "SERVER", 2: "DEVICE", 3: "READ", 4: "PLAYED"}


@csrf_exempt
@require_POST
def events(request, secret):
    connection = WahaConnection.objects.filter(secret=secret).select_related("account").first()
    if connection is None:
        raise Http404("No such WAHA connection")
    problem = signature_problem(connection.hmac_key, request)
    if problem:
        log.warning("WAHA event refused (connection %s): %s", connection.pk, problem)
        return JsonResponse({"error": problem}, status=401)
    try:
        event = json.loads(request.body)
    except ValueError as exc:
        log.warning("WAHA event is not JSON (connection %s): %s", connection.pk, exc)
        return JsonResponse({"error": "The body is not valid JSON."}, status=400)
    if not isinstance(event, dict) or not isinstance(event.get("payload"), dict):
        log.warning("WAHA event without a payload ignored (connection %s)", connection.pk)
        return JsonResponse({"status": "ignored"})
    return JsonResponse({"status": dispatch(connection, event)})


def signature_problem(key, request):
    """Why the body's signature is unacceptable, or '' when it is fine (or no key is set)."""
    if not key:
        return ""
    signature = request.headers.get("X-Webhook-Hmac", "")
    algorithm = request.headers.get("X-Webhook-Hmac-Algorithm", "sha512").lower()
    if not signature:
        return "unsigned body (no X-Webhook-Hmac header)"
    if algorithm != "sha512":
        return f"unexpected HMAC algorithm '{algorithm}'"
    expected = hmac.new(key.encode(), request.body, hashlib.sha512).hexdigest()
    if not constant_time_compare(expected, signature.strip().lower()):
        return "bad signature (X-Webhook-Hmac does not match the body)"
    return ""


def dispatch(connection, event):
    kind = event.get("event")
    handler = HANDLERS.get(kind)
    if handler is None:
        log.info("WAHA event %r acknowledged and ignored (connection %s)", kind, connection.pk)
        return "ignored"
    if event.get("session") not in (None, connection.session):
        log.warning(
            "WAHA event for session %r ignored (connection %s)", event["session"], connection.pk
        )
        return "ignored"
    return handler(connection, event) or "ok"


# message.any: incoming messages, messages typed on the phone, echoes of ours.


def on_message(connection, event):
    account, payload = connection.account, event["payload"]
    if account is None:
        log.warning("WAHA message before the account is linked (connection %s)", connection.pk)
        return "ignored"
    try:
        incoming = Incoming(payload, resolve=lambda lid: lid_to_phone_jid(connection, lid))
    except (KeyError, InvalidJid, InvalidPhone) as exc:
        log.info("WAHA message %r not stored: %s", payload.get("id"), exc)
        return "ignored"
    with transaction.atomic():
        # One event at a time per account, so a retried delivery sees the first one's row.
        Account.objects.select_for_update().filter(pk=account.pk).first()
        mine = Message.objects.filter(chat__account=account, external_id=incoming.key)
        if mine.exists():
            return "duplicate"
        if incoming.from_me and incoming.source != "app" and claim_echo(account, incoming):
            return "echo"
        store_incoming(account, incoming)
    return "stored"


class Incoming:
    """The fields of a WAHA message payload that we keep."""

    def __init__(self, payload, resolve=lambda lid: ""):
        self.key = message_key(payload["id"])
        self.from_me = bool(payload.get("fromMe"))
        self.source = payload.get("source") or ""
        chat_id = payload["to"] if self.from_me else payload["from"]
        if str(chat_id).endswith("@lid"):
            chat_id = alternative_jid(payload, self.from_me) or resolve(chat_id) or chat_id
        self.jid = our_jid(chat_id)
        self.is_group = is_group_jid(self.jid)
        self.participant = payload.get("participant") or payload.get("author") or ""
        self.text = payload.get("body") or ""
        self.timestamp = from_timestamp(payload.get("timestamp"))
        self.name = push_name(payload.get("_data"))
        self.media = media_fields(payload) if payload.get("hasMedia") else {}
        self.ack = ack_name(payload)


def alternative_jid(payload, from_me):
    """WhatsApp increasingly names contacts by a '<id>@lid' instead of their number; engines
    that know the number put it beside it in `_data` (NOWEB: key.remoteJidAlt, GOWS:
    Info.SenderAlt / Info.RecipientAlt)."""
    data = payload.get("_data") if isinstance(payload.get("_data"), dict) else {}
    key = data.get("key") if isinstance(data.get("key"), dict) else {}
    info = data.get("Info") if isinstance(data.get("Info"), dict) else {}
    for candidate in (
        key.get("remoteJidAlt"),
        info.get("RecipientAlt" if from_me else "SenderAlt"),
    ):
        if isinstance(candidate, str) and "@" in candidate and not candidate.endswith("@lid"):
            user, _, server = candidate.partition("@")
            return user.split(":")[0] + "@" + server  # without a device suffix ("…:12@…")
    return ""


def lid_to_phone_jid(connection, lid):
    """Ask WAHA for the number behind `lid` (its lids API); '' when it does not know it."""
    client = WahaClient(connection.base_url, connection.api_key, connection.session)
    return client.phone_jid_of_lid(lid)


def push_name(data):
    """The name the contact chose, wherever this engine put it in `_data`."""
    data = data if isinstance(data, dict) else {}
    info = data.get("Info") if isinstance(data.get("Info"), dict) else {}
    return data.get("notifyName") or data.get("pushName") or info.get("PushName") or ""


def media_fields(payload):
    media = payload.get("media") if isinstance(payload.get("media"), dict) else {}
    url = media.get("url") or payload.get("mediaUrl") or ""
    name = media.get("filename") or PurePosixPath(urlsplit(url).path).name or "attachment"
    return {
        "attachment_url": url if url.startswith(("http://", "https://")) else "",
        "attachment_name": name[:255],
        "attachment_mime": (media.get("mimetype") or "")[:100],
    }


def claim_echo(account, incoming):
    """WAHA reports the messages we send through its API too. Ours carries the id sendText
    answered with; if the echo outruns that answer, it is the same text still being sent."""
    pending = (
        Message.objects.filter(
            chat__account=account,
            chat__jid=incoming.jid,
            direction=Message.SENT,
            external_id="",
            status__in=[Message.SENDING, Message.SENT],
            text=incoming.text,
        )
        .order_by("-id")
        .first()
    )
    if pending is None:
        return False
    pending.external_id = incoming.key
    pending.save(update_fields=["external_id"])
    return True


def store_incoming(account, incoming):
    chat, created = chat_for(account, incoming)
    fields = {"text": incoming.text, "timestamp": incoming.timestamp, **incoming.media}
    if incoming.from_me:
        # Typed on the phone (or sent by another WAHA client): ours, already on its way.
        status = ACKS.get(incoming.ack) if incoming.ack != "ERROR" else None
        fields.update(status=status or Message.SENT, sent_at=incoming.timestamp)
        direction, origin = Message.SENT, Message.ORIGIN_PHONE
    else:
        direction, origin = Message.RECEIVED, Message.ORIGIN_CONTACT
        if incoming.is_group:
            sender_phone = phone_of(incoming.participant)
            fields["sender_name"] = incoming.name or sender_phone or incoming.participant
    return store_message(
        chat,
        direction=direction,
        origin=origin,
        created_chat=created,
        external_id=incoming.key,
        **fields,
    )


def chat_for(account, incoming):
    if incoming.is_group:
        return Chat.get_or_create_group(account, incoming.jid)
    name = "" if incoming.from_me else incoming.name
    return Chat.get_or_create_direct(account, phone_of(incoming.jid), name)


# message.ack: sent, delivered, read or failed.


def ack_name(payload):
    name = payload.get("ackName")
    if name in ACKS or name == "PENDING":
        return name
    return ACK_NAMES.get(payload.get("ack"), "")


def on_ack(connection, event):
    account, payload = connection.account, event["payload"]
    status = ACKS.get(ack_name(payload))
    if account is None or status is None or not payload.get("id"):
        return "ignored"
    message = Message.objects.filter(
        chat__account=account, external_id=message_key(payload["id"]), direction=Message.SENT
    ).first()
    if message is None:
        log.info("WAHA ack for unknown message %r (account %s)", payload["id"], account.pk)
        return "ignored"
    changed = record_delivery(message, status, from_timestamp(event.get("timestamp")))
    return "updated" if changed else "unchanged"


# session.status: the phone is linked (WORKING) or gone (STOPPED, FAILED, SCAN_QR_CODE).


def on_session_status(connection, event):
    status = str(event["payload"].get("status") or "").upper()
    me = event.get("me") if isinstance(event.get("me"), dict) else {}
    restrictions = {k: me[k] for k in ("reachoutTimelock", "messageCapping") if k in me}
    if status != "WORKING":
        connection.record_status(status, restrictions)
        return "ok"
    phone = phone_of(me.get("id"))
    if not phone and connection.account is None:
        # Older WAHA versions send no `me`: the connect page asks WAHA who it is instead.
        connection.record_status(status, restrictions)
        return "ok"
    try:
        connection.link(phone or connection.account.phone, restrictions)
    except InvalidPhone as exc:
        log.warning("WAHA session of connection %s is not a phone: %s", connection.pk, exc)
        connection.record_status(status, restrictions)
    return "ok"


HANDLERS = {
    "message.any": on_message,
    "message.ack": on_ack,
    "session.status": on_session_status,
}
