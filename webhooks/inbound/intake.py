"""What a request to the inbound URL asks for, checked field by field (I5, I9), and what its
recipient field names for the read that resolves it. Every problem is an InboundError carrying
its HTTP status and a message that names the field at fault, in words an integrator can act on.

Hand-written rather than a DRF serializer: the request path must stay lean (the benchmark in
bench/inbound.py), and the messages here are the product's interface.
"""

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from timelines import api, safehttp
from webhooks.inbound import resolve
from whatsapp.jids import InvalidJid, is_group_jid, jid_user, normalize_jid
from whatsapp.phones import InvalidPhone, normalize_phone

RECIPIENT_FIELDS = ("chat_id", "jid", "phone", "chat_name")
ACCOUNT_FIELDS = ("whatsapp_account_phone", "whatsapp account phone")
MAX_URL_LENGTH = 2000
MAX_FILE_NAME_LENGTH = 255
EXAMPLE = '{"action": "send", "phone": "+14151231234", "text": "Hello"}'


class InboundError(Exception):
    def __init__(self, status, message, recipient_kind=""):
        super().__init__(message)
        self.status = status
        self.message = message
        self.recipient_kind = recipient_kind

    @property
    def body(self):
        return {"status": self.status, "data": {}, "message": self.message}


def bad(message):
    return InboundError(400, message)


@dataclass
class SendRequest:
    text: str
    file_url: str
    file_name: str
    account_phone: str  # as given, "" for the default account
    recipient_kind: str  # which of RECIPIENT_FIELDS names the recipient
    recipient: object  # its value: an int chat id, a JID, an E.164 phone or a chat name
    send_at: datetime = None  # G5: not before (None: now)
    expires_at: datetime = None  # G5: failed as expired if not handed to WhatsApp by then


# -- Parsing -----------------------------------------------------------------------------------


def parse_json(raw):
    """The decoded JSON value of a request body, or a 400 that says what is wrong and where (the
    reader every machine-facing API shares: timelines.api)."""
    try:
        return api.parse_json(raw, EXAMPLE)
    except api.BodyError as exc:
        raise InboundError(exc.status, exc.message) from None


def parse_send_request(data):
    """Check a decoded body against I5; returns a SendRequest."""
    if not isinstance(data, dict):
        raise bad(f"The request body must be a JSON object, e.g. {EXAMPLE}.")
    action = data.get("action")
    if _absent(action):
        raise bad('The field "action" is required; the only supported action is "send".')
    if action != "send":
        raise bad(f'The action {_shown(action)} is not supported; the only action is "send".')
    text = _string(data, "text")
    file_url = _file_url(data)
    file_name = _string(data, "file_name", MAX_FILE_NAME_LENGTH).strip()
    if file_url and not file_name:
        raise bad('The field "file_name" is required when "file_url" is given.')
    if not file_url and not text.strip():
        raise bad(
            'The field "text" is required and must not be empty (unless "file_url" is given).'
        )
    kind, recipient = _recipient(data)
    send_at, expires_at = _schedule(data)
    return SendRequest(
        text=text,
        file_url=file_url,
        file_name=_base_name(file_name) if file_url else "",
        account_phone=_account_phone(data),
        recipient_kind=kind,
        recipient=recipient,
        send_at=send_at,
        expires_at=expires_at,
    )


# -- G5: when to send, and until when it may still go ------------------------------------------

MAX_SCHEDULE = timedelta(days=30)
TIME_EXAMPLE = '"2026-03-01T09:00:00+01:00" or "2026-03-01 08:00:00 +0000"'
# TimelinesAI's own timestamp format (W3): "YYYY-MM-DD HH:MM:SS +0000".
_SPACED = re.compile(r"^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d+)?) ([+-]\d{2}):?(\d{2})$")


def _schedule(data):
    """(send_at, expires_at): None when absent; a past send_at means now."""
    now = timezone.now()
    send_at, expires_at = _moment(data, "send_at"), _moment(data, "expires_at")
    if send_at is not None and send_at > now + MAX_SCHEDULE:
        raise bad('The field "send_at" is more than 30 days ahead; schedule closer to the time.')
    if send_at is not None and send_at <= now:
        send_at = None  # a past time means now
    if expires_at is not None and expires_at <= max(send_at or now, now):
        raise bad(
            'The field "expires_at" must be later than now and than "send_at": the message '
            "would expire before it could be sent."
        )
    return send_at, expires_at


def _moment(data, field):
    value = data.get(field)
    if _absent(value):
        return None
    if not isinstance(value, str) or len(value) > 40:
        raise bad(f'The field "{field}" must be a time such as {TIME_EXAMPLE}.')
    text = value.strip()
    spaced = _SPACED.match(text)
    if spaced:
        day, clock, hours, minutes = spaced.groups()
        text = f"{day}T{clock}{hours}:{minutes}"
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise bad(f'The field "{field}" is not a time: use {TIME_EXAMPLE}.') from None
    if moment.tzinfo is None:
        raise bad(
            f'The field "{field}" has no UTC offset: add one, as in {TIME_EXAMPLE}, so the time '
            "is not misread."
        )
    return moment


def _absent(value):
    """Zapier and friends send unmapped fields as "" or null: those count as not given."""
    return value is None or (isinstance(value, str) and not value.strip())


def _shown(value, limit=60):
    text = json.dumps(value, ensure_ascii=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _string(data, field, max_length=None):
    value = data.get(field)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise bad(f'The field "{field}" must be a string, not {_shown(value)}.')
    if "\x00" in value or not _encodable(value):
        raise bad(f'The field "{field}" contains a NUL character or invalid Unicode.')
    if max_length and len(value) > max_length:
        raise bad(f'The field "{field}" is too long (at most {max_length} characters).')
    return value


def _encodable(value):
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates ("\ud800") decode from JSON but cannot be stored
        return False
    return True


def _file_url(data):
    url = _string(data, "file_url", MAX_URL_LENGTH).strip()
    if not url:
        return ""
    try:
        # The same check the sender's download makes (timelines.safehttp): what it would refuse
        # as unparsable is refused here, at once, with the field named.
        return safehttp.parse_url(url)
    except safehttp.InvalidURL as exc:
        raise bad(
            f'The field "file_url" must be a public http(s) URL of the file: {exc}.'
        ) from None


def _base_name(name):
    """The attachment's name without any directory part a client may have put in it."""
    return name.replace("\\", "/").rsplit("/", 1)[-1].strip() or "file"


def _account_phone(data):
    for field in ACCOUNT_FIELDS:
        value = data.get(field)
        if not _absent(value):
            return _phone(value, field)
    return ""


def _phone(value, field):
    if not isinstance(value, str):
        raise bad(f'The field "{field}" must be a string such as "+14151231234".')
    _string({field: value}, field, 40)
    try:
        return normalize_phone(value)
    except InvalidPhone as exc:
        raise bad(f'The field "{field}" is not a valid phone number: {exc}') from None


def _recipient(data):
    """(kind, value) of the highest-priority recipient field given (chat_id › jid › phone ›
    chat_name)."""
    for kind in RECIPIENT_FIELDS:
        value = data.get(kind)
        if not _absent(value):
            return kind, RECIPIENT_PARSERS[kind](value)
    raise bad('A recipient is required: give one of "chat_id", "jid", "phone" or "chat_name".')


def _chat_id(value):
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise bad(f'The field "chat_id" must be a chat\'s numeric id, not {_shown(value)}.')
    text = str(value).strip()
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise bad(f'The field "chat_id" must be a chat\'s numeric id, not {_shown(value)}.')
    return int(text)


def _jid(value):
    _string({"jid": value}, "jid", 100)
    try:
        return normalize_jid(value)
    except InvalidJid as exc:
        raise bad(f'The field "jid" is not valid: {exc}') from None


def _chat_name(value):
    return _string({"chat_name": value}, "chat_name", 200).strip()


RECIPIENT_PARSERS = {
    "chat_id": _chat_id,
    "jid": _jid,
    "phone": lambda value: _phone(value, "phone"),
    "chat_name": _chat_name,
}


# -- What the recipient names, for the one read that resolves it (webhooks.inbound.resolve) ----


def recipient_of(request):
    """(resolve kind, value) of a SendRequest's recipient: a contact's E.164 phone (by phone or
    contact JID), a chat id, a group JID or a chat name."""
    kind, value = request.recipient_kind, request.recipient
    if kind == "phone":
        return resolve.CONTACT, value
    if kind == "jid" and not is_group_jid(value):
        try:
            return resolve.CONTACT, normalize_phone("+" + jid_user(value))
        except InvalidPhone as exc:
            raise bad(f'The field "jid" is not a valid phone number: {exc}') from None
    if kind == "jid":
        return resolve.GROUP, value
    return kind, value  # chat_id, chat_name
