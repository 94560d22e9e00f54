"""Answering one request to an inbound URL: validate → resolve → queue, in one transaction, and
record it in the workspace's attempt log. Everything slow (downloading the attachment, sending)
happens later in the sender; the request does a handful of queries."""

import hashlib
import ipaddress
import logging
from dataclasses import dataclass
from datetime import UTC
from functools import cached_property

from django.db import IntegrityError, transaction

from credits.models import QuotaExceeded
from webhooks.inbound.intake import (
    InboundError,
    bad,
    parse_json,
    parse_send_request,
    resolve_chat,
)
from webhooks.inbound.models import MAX_BODY_BYTES, Attempt, IdempotencyKey
from whatsapp.models import Message, new_message_id
from whatsapp.outbox import queue_message

log = logging.getLogger(__name__)

LOGGED_HEADERS = ("Content-Type", "Content-Length", "Idempotency-Key", "X-Forwarded-For")
MAX_IDEMPOTENCY_KEY = 255
PRUNE_EVERY = 10


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


class KeyTaken(Exception):
    """A concurrent request with the same Idempotency-Key committed first."""


@dataclass
class Call:
    """What the attempt log keeps of a request, read once from the Django request."""

    method: str
    raw: bytes  # at most MAX_BODY_BYTES + 1
    size: int  # as declared by Content-Length, or as read (a chunked body declares none)
    ip: str | None
    user_agent: str
    headers: dict
    idempotency_key: str

    @classmethod
    def from_request(cls, request):
        meta = request.META
        declared = _int(meta.get("CONTENT_LENGTH"))
        raw = _read_body(request, declared)
        return cls(
            method=request.method,
            raw=raw,
            size=max(declared, len(raw)),
            ip=_ip(meta.get("REMOTE_ADDR")),
            user_agent=_clean(meta.get("HTTP_USER_AGENT", ""))[:500],
            headers={h: _clean(request.headers[h]) for h in LOGGED_HEADERS if h in request.headers},
            idempotency_key=_clean(request.headers.get("Idempotency-Key", "")).strip(),
        )

    @cached_property
    def body_sha256(self):
        return hashlib.sha256(self.raw).hexdigest()

    @property
    def body_text(self):
        # Kept as received, even when it is not JSON; NUL cannot be stored in PostgreSQL text.
        return self.raw[:MAX_BODY_BYTES].decode("utf-8", "replace").replace("\x00", "\ufffd")


def _read_body(request, declared):
    """At most MAX_BODY_BYTES + 1 bytes of the body: enough to tell that it is too large."""
    limit = MAX_BODY_BYTES + 1
    # Django reads no further than Content-Length, and a chunked request has none: its body would
    # look empty. A server that de-chunks the body and ends the input where the body ends says so
    # with wsgi.input_terminated (gunicorn does); then the input can be read up to the limit.
    if declared or not request.META.get("wsgi.input_terminated"):
        return request.read(limit)
    stream, chunks, size = request.META["wsgi.input"], [], 0
    while size < limit and (chunk := stream.read(limit - size)):
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _int(value):
    return int(value) if str(value or "").isdigit() else 0


def _ip(value):
    try:
        return str(ipaddress.ip_address(str(value)))
    except ValueError:
        return None


def _clean(text):
    return "".join(ch if ch.isprintable() else "\ufffd" for ch in str(text))


# -- The send endpoint -------------------------------------------------------------------------


def answer(webhook, call):
    """The Outcome of a request to `webhook`'s URL, recorded in its attempt log."""
    for _ in range(2):
        try:
            with transaction.atomic():
                return _accept(webhook, call)  # recorded inside, with the message
        except InboundError as error:
            outcome = Outcome.of_error(error)
            _record(webhook, call, outcome)
            return outcome
        except KeyTaken:
            continue  # the other request's answer is committed now: replay it
    raise AssertionError("unreachable: a key taken twice")  # pragma: no cover


def _accept(webhook, call):
    if not webhook.enabled:
        raise InboundError(403, "Webhook is disabled")
    if call.method != "POST":
        raise InboundError(405, f"Method {call.method} not allowed: POST the JSON body instead.")
    if call.size > MAX_BODY_BYTES:
        raise InboundError(413, "The request body is larger than 64 KB (65536 bytes).")
    workspace = webhook.workspace
    if call.idempotency_key:
        replayed = _replay(workspace, call)
        if replayed:
            _record(webhook, call, replayed)
            return replayed
    request = parse_send_request(parse_json(call.raw))
    try:
        chat, created = resolve_chat(workspace, request)
    except InboundError as error:
        error.recipient_kind = request.recipient_kind
        raise
    # The answer is known before the message is queued: record it first, so that queueing (which
    # locks the workspace's balance row until commit) comes last in the transaction.
    message_id = new_message_id()
    outcome = Outcome.accepted(message_id, request.recipient_kind)
    _record(webhook, call, outcome)
    if call.idempotency_key:
        _remember(workspace, call, outcome.body)
    try:
        queue_message(chat, **message_fields(request), created_chat=created, message_id=message_id)
    except QuotaExceeded:
        raise InboundError(402, "Message sending quota exceeded", request.recipient_kind) from None
    return outcome


def message_fields(request):
    """What a SendRequest asks to send, as `queue_message`'s (and `queued_message`'s) fields."""
    return {
        "text": request.text,
        "origin": Message.ORIGIN_INBOUND_WEBHOOK,
        "attachment_url": request.file_url,
        "attachment_name": request.file_name,
    }


def _replay(workspace, call):
    """The stored answer to an earlier request with the same key, or None to go ahead (I13)."""
    if len(call.idempotency_key) > MAX_IDEMPOTENCY_KEY:
        raise bad(f"The Idempotency-Key header is too long (at most {MAX_IDEMPOTENCY_KEY}).")
    stored = IdempotencyKey.objects.filter(workspace=workspace, key=call.idempotency_key).first()
    if stored is None:
        return None
    if stored.expired:
        stored.delete()
        return None
    if stored.body_sha256 != call.body_sha256:
        raise InboundError(
            422,
            "This Idempotency-Key was already used with a different request body. Use a new key "
            "for a new message.",
        )
    message_id = stored.response.get("data", {}).get("message_id", "")
    return Outcome(stored.status, stored.response, message_id, replayed=True)


def _remember(workspace, call, body):
    try:
        with transaction.atomic():
            IdempotencyKey.objects.create(
                workspace=workspace,
                key=call.idempotency_key,
                body_sha256=call.body_sha256,
                status=200,
                response=body,
            )
    except IntegrityError:
        raise KeyTaken() from None


def _record(webhook, call, outcome):
    attempt = attempt_row(webhook.workspace_id, call, outcome)
    attempt.save(force_insert=True)
    prune_later(attempt)


def attempt_row(workspace_id, call, outcome):
    """The unsaved attempt-log entry of a request and its answer (I3)."""
    return Attempt(
        workspace_id=workspace_id,
        method=call.method[:10],
        body=call.body_text,
        body_size=call.size,
        headers=call.headers,
        ip=call.ip,
        user_agent=call.user_agent,
        status=outcome.status,
        response=outcome.body,
        message_id=outcome.message_id,
        recipient_kind=outcome.recipient_kind,
        replayed=outcome.replayed,
    )


def prune_later(attempt):
    """Trim the workspace's log once the transaction that recorded `attempt` has committed.

    After commit and in its own statement (pruning inside the transaction would make concurrent
    requests of a workspace wait on each other's row locks), and only every PRUNE_EVERY attempts:
    the log shows the 100 latest, storage holds at most 100 + 9.
    """
    if attempt.pk % PRUNE_EVERY == 0:
        workspace_id = attempt.workspace_id
        transaction.on_commit(lambda: Attempt.prune(workspace_id))


# -- The status lookup (I12) -------------------------------------------------------------------


def message_status(webhook, message_id):
    """The status data of one message this workspace sent, or an InboundError."""
    if not webhook.enabled:
        raise InboundError(403, "Webhook is disabled")
    message = None
    if len(message_id) <= 64 and "\x00" not in message_id:
        message = Message.objects.filter(
            message_id=message_id,
            direction=Message.SENT,
            chat__account__workspace_id=webhook.workspace_id,
        ).first()
    if message is None:
        raise InboundError(404, "Message not found")
    return {
        "message_id": message.message_id,
        "status": message.status,
        "created_at": _iso(message.timestamp),
        "sent_at": _iso(message.sent_at),
        "delivered_at": _iso(message.delivered_at),
        "read_at": _iso(message.read_at),
        "failed_at": _iso(message.failed_at),
        "error": message.error or None,
    }


def _iso(moment):
    """ISO 8601 in UTC with a Z, or None."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None
