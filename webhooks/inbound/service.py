"""Answering one request to an inbound URL — every request, whatever it asks and however it
ends, through one pipeline:

    parse (no database) → resolve (one read: `resolve.read`) → check → write (one short
    transaction: `write.store`) → answer

and recorded in the workspace's attempt log (I3): with the message when it is accepted, on its
own when it is refused. Everything slow (downloading the attachment, sending) happens later in the
paced sender.
"""

import hashlib
import ipaddress
import json
import logging
from dataclasses import dataclass
from datetime import UTC
from functools import cached_property

from django.utils import timezone

from credits.models import QuotaExceeded, reservation
from timelines.api import Body, read_body
from webhooks.inbound import resolve, write
from webhooks.inbound.intake import (
    InboundError,
    bad,
    parse_json,
    parse_send_request,
    recipient_of,
)
from webhooks.inbound.models import MAX_BODY_BYTES, Attempt, IdempotencyKey
from whatsapp.governor import policy
from whatsapp.jids import is_group_jid
from whatsapp.models import Message
from whatsapp.outbox import queued_message

log = logging.getLogger(__name__)

# The headers the log keeps, and their keys in the WSGI environ: read there directly, since
# building request.headers from the whole environ costs more than the rest of the reading.
LOGGED_HEADERS = {
    "Content-Type": "CONTENT_TYPE",
    "Content-Length": "CONTENT_LENGTH",
    "Idempotency-Key": "HTTP_IDEMPOTENCY_KEY",
    "X-Forwarded-For": "HTTP_X_FORWARDED_FOR",
}
MAX_IDEMPOTENCY_KEY = 255
# An attempt's body_size column is a 32-bit integer; a Content-Length may claim anything.
MAX_RECORDED_SIZE = 2**31 - 1


@dataclass
class Outcome:
    status: int
    body: dict
    message_id: str = ""
    recipient_kind: str = ""
    replayed: bool = False

    @classmethod
    def accepted(cls, message_id, recipient_kind):
        body = {"status": "success", "data": {"message_id": message_id}}
        return cls(200, body, message_id, recipient_kind)

    @classmethod
    def of_error(cls, error):
        return cls(error.status, error.body, recipient_kind=error.recipient_kind)


@dataclass
class Call:
    """What the attempt log keeps of a request, read once from the Django request."""

    method: str
    body: Body  # read the way every machine-facing API reads it (timelines.api)
    ip: str | None
    user_agent: str
    headers: dict
    idempotency_key: str

    @classmethod
    def from_request(cls, request):
        meta = request.META
        return cls(
            method=request.method,
            body=read_body(request, MAX_BODY_BYTES),
            ip=_ip(meta.get("REMOTE_ADDR")),
            user_agent=_clean(meta.get("HTTP_USER_AGENT", ""))[:500],
            headers={h: _clean(meta[key]) for h, key in LOGGED_HEADERS.items() if key in meta},
            idempotency_key=_clean(meta.get("HTTP_IDEMPOTENCY_KEY", "")).strip(),
        )

    @property
    def raw(self):
        return self.body.raw  # at most MAX_BODY_BYTES + 1

    @property
    def size(self):
        return self.body.size

    @cached_property
    def body_sha256(self):
        return hashlib.sha256(self.raw).hexdigest()

    @property
    def body_text(self):
        # Kept as received, even when it is not JSON; NUL cannot be stored in PostgreSQL text.
        return self.raw[:MAX_BODY_BYTES].decode("utf-8", "replace").replace("\x00", "\ufffd")


def _ip(value):
    try:
        return str(ipaddress.ip_address(str(value)))
    except ValueError:
        return None


def _clean(text):
    return "".join(ch if ch.isprintable() else "\ufffd" for ch in str(text))


# -- The send endpoint -------------------------------------------------------------------------


def answer(token, call):
    """The Outcome of a request to the inbound URL with `token`, recorded in the workspace's
    attempt log; None when no webhook has that URL (nothing to log it to)."""
    for _ in range(3):
        try:
            return _answer(token, call)
        except write.LostRace:
            # A concurrent request created the chat or took the key first, and committed: the
            # read now finds them, and this request is answered as if it had come second.
            continue
    return _refuse(None, call, InboundError(409, "Too many concurrent requests; please retry."))


def _answer(token, call):
    request, kind, value, problem = _parse(call)
    key = call.idempotency_key if len(call.idempotency_key) <= MAX_IDEMPOTENCY_KEY else ""
    account_phone = request.account_phone if request else ""
    target = resolve.read(token, kind=kind, value=value, account_phone=account_phone, key=key)
    if target is None:
        return None
    try:
        replay = _check(target, call, request, problem)
        if replay is not None:
            write.record(attempt_row(target.workspace_id, call, replay))
            return replay
        return _accept(target, call, request)
    except InboundError as error:
        return _refuse(target, call, error)


def _parse(call):
    """(SendRequest, resolve kind, value, None), or (…, the InboundError that refuses it)."""
    if call.body.refusal() is not None:
        return None, None, None, None  # too large or unreadable: _check answers that first
    request = None
    try:
        request = parse_send_request(parse_json(call.raw))
        return request, *recipient_of(request), None
    except InboundError as error:
        if request is not None:
            error.recipient_kind = request.recipient_kind
        return None, None, None, error


def _check(target, call, request, problem):
    """Raise the InboundError that answers the request, in the order an integrator fixes things;
    return the stored Outcome of an idempotent replay; None when it is to be accepted."""
    if not target.enabled:
        raise InboundError(403, "Webhook is disabled")
    if call.method != "POST":
        raise InboundError(405, f"Method {call.method} not allowed: POST the JSON body instead.")
    refusal = call.body.refusal()
    if refusal is not None:
        raise InboundError(refusal.status, refusal.message)
    if call.idempotency_key:
        replay = _replay(target, call)
        if replay is not None:
            return replay
    if problem is not None:
        raise problem
    try:
        _check_recipient(target, request)
    except InboundError as error:
        error.recipient_kind = request.recipient_kind
        raise
    return None


def _replay(target, call):
    """The stored answer to an earlier request with the same key, or None to go ahead (I13)."""
    if len(call.idempotency_key) > MAX_IDEMPOTENCY_KEY:
        raise bad(f"The Idempotency-Key header is too long (at most {MAX_IDEMPOTENCY_KEY}).")
    stored = target.key
    if stored is None or stored.expired:
        return None
    if stored.body_sha256 != call.body_sha256:
        raise InboundError(
            422,
            "This Idempotency-Key was already used with a different request body. Use a new key "
            "for a new message.",
        )
    message_id = stored.response.get("data", {}).get("message_id", "")
    return Outcome(stored.status, stored.response, message_id, replayed=True)


def _check_recipient(target, request):
    """The recipient and the sending account exist and can send (I5)."""
    kind, named, chat = request.recipient_kind, request.account_phone, target.chat
    contact = kind == "phone" or (kind == "jid" and not is_group_jid(request.recipient))
    # A group or a chat name is looked for on the named account: it must be connected.
    if named and not contact and kind != "chat_id" and not target.named_account_found:
        raise _not_connected(named)
    if chat is None:
        if not contact:
            raise bad(NOT_FOUND[kind].format(value=_shown_value(request)))
        if named:
            raise _not_connected(named)
        raise InboundError(
            409, "No WhatsApp account is connected to this workspace. Connect one and try again."
        )
    if target.another_chat_id is not None:
        raise InboundError(
            409,
            f'The field "chat_name": more than one chat is named {_shown_value(request)}. '
            'Use "chat_id" (or name the account with "whatsapp_account_phone").',
        )
    if not chat.account.is_connected:
        raise InboundError(
            409,
            f"The WhatsApp account {chat.account.phone} of this chat is not connected. "
            "Reconnect it and try again.",
        )


NOT_FOUND = {
    "chat_id": 'The field "chat_id": there is no chat {value} in this workspace.',
    "jid": 'The field "jid": there is no group chat {value} in this workspace.',
    "chat_name": 'The field "chat_name": there is no chat named {value}.',
}


def _shown_value(request):
    if request.recipient_kind == "chat_name":
        return json.dumps(request.recipient, ensure_ascii=True)[:60]
    return str(request.recipient)


def _not_connected(phone):
    return bad(
        f'The field "whatsapp_account_phone": {phone} is not a connected WhatsApp account of '
        "this workspace."
    )


def _accept(target, call, request):
    chat = target.chat
    message = queued_message(chat, **message_fields(request), created_chat=chat.pk is None)
    if message.credits > target.balance:
        raise InboundError(402, "Message sending quota exceeded")
    outcome = Outcome.accepted(message.message_id, request.recipient_kind)
    entry = reservation(target.workspace_id, message.credits, message.message_id)
    attempt = attempt_row(target.workspace_id, call, outcome)
    key = expired = None
    if call.idempotency_key:
        key = IdempotencyKey(
            workspace_id=target.workspace_id,
            key=call.idempotency_key,
            body_sha256=call.body_sha256,
            status=outcome.status,
            response=outcome.body,
        )
        expired = target.key  # still there only when it has expired
    try:
        write.store(target.workspace_id, message, entry, attempt, key, expired)
    except QuotaExceeded:
        # Spent by a concurrent request since the read: nothing was stored.
        raise InboundError(402, "Message sending quota exceeded") from None
    return outcome


def _refuse(target, call, error):
    outcome = Outcome.of_error(error)
    if target is not None:
        write.record(attempt_row(target.workspace_id, call, outcome))
    return outcome


def message_fields(request):
    """What a SendRequest asks to send, as `queued_message`'s fields."""
    return {
        "text": request.text,
        "origin": Message.ORIGIN_INBOUND_WEBHOOK,
        "attachment_url": request.file_url,
        "attachment_name": request.file_name,
        "send_at": request.send_at,
        "expires_at": request.expires_at,
    }


def attempt_row(workspace_id, call, outcome):
    """The unsaved attempt-log entry of a request and its answer (I3)."""
    return Attempt(
        workspace_id=workspace_id,
        method=call.method[:10],
        body=call.body_text,
        body_size=min(call.size, MAX_RECORDED_SIZE),
        headers=call.headers,
        ip=call.ip,
        user_agent=call.user_agent,
        status=outcome.status,
        response=outcome.body,
        message_id=outcome.message_id,
        recipient_kind=outcome.recipient_kind,
        replayed=outcome.replayed,
    )


# -- The status lookup (I12) -------------------------------------------------------------------


def message_status(webhook, message_id):
    """The status data of one message this workspace sent, or an InboundError."""
    message = own_message(webhook, message_id)
    return {
        "message_id": message.message_id,
        "status": message.status,
        "created_at": _iso(message.timestamp),
        "sent_at": _iso(message.sent_at),
        "delivered_at": _iso(message.delivered_at),
        "read_at": _iso(message.read_at),
        "failed_at": _iso(message.failed_at),
        "error": message.error or None,
        **governed(message),
    }


def own_message(webhook, message_id):
    """A message this workspace sent, named by its id, or an InboundError (403, 404)."""
    if not webhook.enabled:
        raise InboundError(403, "Webhook is disabled")
    message = None
    if len(message_id) <= 64 and "\x00" not in message_id:
        message = (
            Message.objects.filter(
                message_id=message_id,
                direction=Message.SENT,
                chat__account__workspace_id=webhook.workspace_id,
            )
            .select_related("chat__account")
            .first()
        )
    if message is None:
        raise InboundError(404, "Message not found")
    return message


def governed(message):
    """G2, G5: why and until when a queued message waits; when a scheduled one is due. Only
    when they apply: a lookup of an ungoverned message reads exactly as before."""
    data = {}
    waiting = policy.waiting(message, timezone.now())
    if waiting:
        data["waiting"] = waiting_object(waiting)
    if message.status == Message.SCHEDULED:
        data["send_at"] = _iso(message.send_at)
    if message.expires_at:
        data["expires_at"] = _iso(message.expires_at)
    return data


def waiting_object(waiting):
    return {"reason": waiting["reason"], "until": _iso(waiting["until"])}


def _iso(moment):
    """ISO 8601 in UTC with a Z, or None."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None
