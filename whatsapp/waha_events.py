"""What WAHA's events do, once its endpoint (whatsapp.waha_webhook) has checked and read them:
dispatch, a dict from event type to handler. Unknown events are acknowledged and logged, so WAHA
does not retry them; duplicates are harmless because messages are matched by WhatsApp's id and
statuses only move forward.
"""

import hashlib
import logging
from pathlib import PurePosixPath
from urllib.parse import urlsplit

from django.core.cache import cache
from django.db import transaction

from timelines import safehttp
from whatsapp.delivery import report_delivery
from whatsapp.governor import waha as governor_waha
from whatsapp.jids import InvalidJid, is_group_jid
from whatsapp.media import received
from whatsapp.models import STATUS_LENGTH, Account, Chat, Message
from whatsapp.phones import InvalidPhone
from whatsapp.store import store_message
from whatsapp.transports.waha import (
    WahaClient,
    from_timestamp,
    message_key,
    our_jid,
    phone_of,
    serialized_chat,
)
from whatsapp.waha_server import Server

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


def dispatch(connection, event):
    kind = text(event.get("event"))
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
        incoming = Incoming(payload, engine_of(event), resolver(connection))
        with transaction.atomic():
            return store_once(account, incoming)
    except (BadEvent, InvalidJid, InvalidPhone) as exc:
        log.info("WAHA message %r not stored: %s", payload.get("id"), exc)
        return "ignored"


def store_once(account, incoming):
    """Store a message WAHA reported (an event, or the reconciliation sweep's read-back) unless
    it is known already; 'stored', 'duplicate' or 'echo'."""
    # One message at a time per account, so a retried delivery sees the first one's row.
    Account.objects.select_for_update(of=("self",), no_key=True).filter(pk=account.pk).first()
    if Message.objects.filter(chat__account=account, external_id=incoming.key).exists():
        return "duplicate"
    if incoming.from_me and incoming.source != "app" and claim_echo(account, incoming):
        return "echo"
    store_incoming(account, incoming)
    return "stored"


class BadEvent(ValueError):
    pass


def text(value, limit=None):
    """A JSON value we expect to be a string, as one we can store: anything else is '', NULs and
    lone surrogates (which PostgreSQL refuses) are dropped."""
    if not isinstance(value, str):
        return ""
    value = value.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    return value[:limit] if limit else value


def obj(value):
    return value if isinstance(value, dict) else {}


def engine_of(event):
    """The engine that shaped the event: WEBJS, NOWEB, GOWS (or '' if WAHA did not say)."""
    engine = text(event.get("engine")) or text(obj(event.get("environment")).get("engine"))
    return engine.upper()


class Incoming:
    """The fields of a WAHA message that we keep, read the same way whatever the engine (each
    checked: the body is untrusted in shape even when it is signed).

    The chat is the middle of the message id (`true_<chat>_<ID>`), which every engine builds
    from the message's own key. Without such an id: WEBJS names the chat in `to` for our own
    messages and in `from` otherwise; NOWEB and GOWS always in `from` (their `to` is empty in
    direct chats, and GOWS puts a group message's sender there). Group senders are in
    `participant`. WhatsApp may name a contact by a `<id>@lid`: the number behind it comes from
    the engine's own data or WAHA's lids API (`resolve`)."""

    def __init__(self, payload, engine="", resolve=lambda lid: ""):
        payload_id = text(payload.get("id"))
        self.key = message_key(payload_id)[:200]
        self.serialized = payload_id  # WAHA's own id of it, to ask for its file again
        if not self.key:
            raise BadEvent("the message has no id")
        self.from_me = payload.get("fromMe") is True
        self.source = text(payload.get("source"))
        chat_id = serialized_chat(payload_id) or self._named_chat(payload, engine)
        if chat_id.endswith("@lid"):
            chat_id = alternative_jid(payload, self.from_me) or resolve(chat_id) or chat_id
        self.jid = our_jid(chat_id)
        self.is_group = is_group_jid(self.jid)
        self.participant = sender_of(payload, resolve) if self.is_group else ""
        self.text = text(payload.get("body"))
        self.timestamp = from_timestamp(payload.get("timestamp"))
        self.name = push_name(payload.get("_data"))
        self.media = media_fields(payload) if payload.get("hasMedia") is True else {}
        self.ack = ack_name(payload)

    def _named_chat(self, payload, engine):
        if self.from_me and engine in ("WEBJS", "WPP", ""):
            # WEBJS (and WPP) put our own number in `from` and the chat in `to`.
            return text(payload.get("to")) or text(payload.get("from"))
        return text(payload.get("from"))

    @property
    def origin(self):
        """Who wrote a message of ours: the phone app, or another client of WAHA's API."""
        return Message.ORIGIN_API if self.source == "api" else Message.ORIGIN_PHONE


def sender_of(payload, resolve):
    """A group message's sender as '<digits>@c.us' when it can be known, else as WAHA wrote it."""
    data = obj(payload.get("_data"))
    candidates = (
        payload.get("participant"),
        payload.get("author"),
        obj(data.get("key")).get("participant"),
        obj(data.get("id")).get("participant"),
    )
    participant = next((text(c) for c in candidates if text(c)), "")
    if participant.endswith("@lid"):
        alternative = _without_device(
            text(obj(data.get("key")).get("participantAlt"))
            or text(obj(data.get("Info")).get("SenderAlt"))
        )
        participant = alternative or resolve(participant) or participant
    return participant


def _without_device(jid):
    """'14151231234:12@s.whatsapp.net' -> '14151231234@s.whatsapp.net'; '' for a LID or junk."""
    if "@" not in jid or jid.endswith("@lid"):
        return ""
    user, _, server = jid.partition("@")
    return user.split(":")[0] + "@" + server


def alternative_jid(payload, from_me):
    """WhatsApp increasingly names contacts by a '<id>@lid' instead of their number; engines
    that know the number put it beside it in `_data` (NOWEB: key.remoteJidAlt, GOWS:
    Info.SenderAlt / Info.RecipientAlt)."""
    data = obj(payload.get("_data"))
    key, info = obj(data.get("key")), obj(data.get("Info"))
    for candidate in (
        key.get("remoteJidAlt"),
        info.get("RecipientAlt" if from_me else "SenderAlt"),
    ):
        if found := _without_device(text(candidate)):
            return found
    return ""


# The number behind a LID does not change: WAHA is asked once per LID and session for a day
# (an unknown one again after a few minutes, WAHA may have learnt it meanwhile).
LID_KNOWN_SECONDS = 24 * 3600
LID_UNKNOWN_SECONDS = 300


def resolver(connection):
    """lid -> '<digits>@c.us' through WAHA's lids API, cached; '' when WAHA does not know it."""
    client = WahaClient(connection.base_url, connection.api_key, connection.session)
    prefix = hashlib.sha256(f"{connection.base_url}|{connection.session}".encode()).hexdigest()

    def resolve(lid):
        key = f"waha-lid:{prefix[:32]}:{hashlib.sha256(lid.encode()).hexdigest()[:32]}"
        found = cache.get(key)
        if found is None:
            found = client.phone_jid_of_lid(lid)
            cache.set(key, found, LID_KNOWN_SECONDS if found else LID_UNKNOWN_SECONDS)
        return found

    return resolve


def push_name(data):
    """The name the contact chose, wherever this engine put it in `_data`."""
    data = obj(data)
    names = (data.get("notifyName"), data.get("pushName"), obj(data.get("Info")).get("PushName"))
    return next((text(name, 200) for name in names if text(name)), "")


def media_fields(payload):
    """The attachment's URL, name and type; a URL that does not parse (or is not http(s), or is
    too long) is left out and the message is stored without it."""
    media = obj(payload.get("media"))
    url = text(media.get("url")) or text(payload.get("mediaUrl"))
    try:
        url = safehttp.parse_url(url) if len(url) <= 2000 else ""
    except safehttp.InvalidURL as exc:
        if url:
            log.info("WAHA media URL left out: %s", exc)
        url = ""
    name = text(media.get("filename")) or PurePosixPath(urlsplit(url).path).name
    return {
        "attachment_url": url,
        "attachment_name": (name or "attachment")[:255],
        "attachment_mime": text(media.get("mimetype"), 100),
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
        direction, origin = Message.SENT, incoming.origin
    else:
        direction, origin = Message.RECEIVED, Message.ORIGIN_CONTACT
        if incoming.is_group:
            sender_phone = phone_of(incoming.participant)
            fields["sender_name"] = incoming.name or sender_phone or incoming.participant
    message = store_message(
        chat,
        direction=direction,
        origin=origin,
        created_chat=created,
        external_id=incoming.key,
        **fields,
    )
    if incoming.media:
        received.expect(message, incoming.media["attachment_url"], incoming.serialized)
    return message


def chat_for(account, incoming):
    direction = Message.SENT if incoming.from_me else Message.RECEIVED
    if incoming.is_group:
        return Chat.get_or_create_group(account, incoming.jid, direction=direction)
    name = "" if incoming.from_me else incoming.name
    return Chat.get_or_create_direct(account, phone_of(incoming.jid), name, direction=direction)


# message.ack (direct chats) and message.ack.group (groups: one per participant who got or read
# it): sent, delivered, read or failed. Applied alike; a status only ever moves forward, so the
# second participant's DEVICE after the first one's READ changes nothing.


def ack_name(payload):
    name, number = payload.get("ackName"), payload.get("ack")
    if isinstance(name, str) and (name in ACKS or name == "PENDING"):
        return name
    return ACK_NAMES.get(number, "") if type(number) is int else ""


def on_ack(connection, event):
    account, payload = connection.account, event["payload"]
    status, key = ACKS.get(ack_name(payload)), message_key(text(payload.get("id")))[:200]
    if account is None or status is None or not key:
        return "ignored"
    # An ack can outrun the sender's record of the send: it is then kept for the sender.
    outcome = report_delivery(account, key, status, from_timestamp(event.get("timestamp")))
    if outcome == "ignored":
        log.info("WAHA ack for unknown message %r (account %s)", payload["id"], account.pk)
    return outcome


# session.status: the phone is linked (WORKING) or gone (STOPPED, FAILED, SCAN_QR_CODE).


def on_session_status(connection, event):
    note_server(connection, event.get("environment"))
    status = text(event["payload"].get("status"), STATUS_LENGTH).upper()
    me = obj(event.get("me"))
    restrictions = {k: me[k] for k in ("reachoutTimelock", "messageCapping") if obj(me.get(k))}
    if restrictions and connection.account is not None:
        governor_waha.apply_reported(connection.account, restrictions)  # G3: pause before 463
    if status != "WORKING":
        connection.record_status(status, restrictions)
        return "ok"
    phone = phone_of(text(me.get("id")))
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


def note_server(connection, environment):
    """Every event says which WAHA sent it: an upgraded (or replaced) server is noticed at its
    next session status, so the accounts page and the transport know what it can do now."""
    server = Server.from_answer(environment)
    if server.known and server.as_dict() != connection.server:
        connection.server = server.as_dict()
        connection.save(update_fields=["server", "updated_at"])
        account = connection.account
        if account is not None:
            account.transport_settings = {**account.transport_settings, "server": server.as_dict()}
            account.save(update_fields=["transport_settings"])


HANDLERS = {
    "message.any": on_message,
    "message.ack": on_ack,
    "message.ack.group": on_ack,
    "session.status": on_session_status,
}
