"""WAHA (WhatsApp HTTP API, self-hosted): a real WhatsApp account linked by QR code.

Per account, `Account.transport_settings` holds `base_url`, `api_key` (sent as X-Api-Key),
`session` (WAHA's session name), `webhook_secret` and `hmac_key` (how WAHA's events reach us:
whatsapp/waha_events.py). Every call goes through timelines.safehttp; the WAHA URL is allowed to
be private only when the operator trusts its origin (settings.WAHA_TRUSTED_URLS).

WAHA writes contacts as `<digits>@c.us`; we store `<digits>@s.whatsapp.net` and convert here.
"""

import base64
import json
import logging
import re
from datetime import UTC, datetime
from urllib.parse import quote

from django.conf import settings
from django.utils import timezone

from timelines import safehttp
from whatsapp.governor import waha as governor_waha
from whatsapp.jids import InvalidJid, is_group_jid, jid_user, normalize_jid, to_c_us
from whatsapp.transports import NotOnWhatsApp, Restricted, Transport, TransportError
from whatsapp.waha_server import CORE_SESSIONS_AND_FILES_SINCE, Server, dotted

log = logging.getLogger(__name__)

# "true_14151231234@c.us_3EB0C767D26A1D8E5A4B" (WEBJS adds "_out", groups add "_<participant>"):
# the middle part is the chat, in every engine (WAHA builds it from the message's key), and the
# part after it is WhatsApp's own id of the message, the same in every engine's events and
# answers, so it is what we keep in Message.external_id.
_SERIALIZED_ID = re.compile(r"^(?:true|false)_([^_]+@[^_]+)_([^_]+)")

# WhatsApp answers 463 when the account may not start new chats for a while (reachout timelock),
# 475 when its quota of messages is used up (message capping); a banned account's session fails
# with words like these. Each pauses the account (SPEC G3) instead of failing the message.
_TIMELOCK_ERROR = re.compile(r"\b(?:error|code)\W{0,3}463\b", re.IGNORECASE)
_CAPPED_ERROR = re.compile(r"\b(?:error|code)\W{0,3}475\b|\bcapped\b", re.IGNORECASE)
_BANNED_ERROR = re.compile(
    r"\bbanned\b|\baccount (?:is |was |has been )?(?:blocked|suspended)\b", re.IGNORECASE
)
# WAHA Core before 2026.6.1: "The feature is available only in Plus version. Check this out: ..."
_PLUS_ONLY = re.compile(r"available only in plus", re.IGNORECASE)


def waha_chat_id(jid):
    """Our JID -> WAHA's chatId ('...@s.whatsapp.net' -> '...@c.us'; groups unchanged)."""
    return to_c_us(normalize_jid(jid))


def our_jid(chat_id):
    """WAHA's chatId -> our JID; InvalidJid for what we cannot store ('@lid', '@newsletter')."""
    return normalize_jid(chat_id)


def phone_of(chat_id):
    """'14151231234@c.us' -> '+14151231234'; '' for groups and anything else."""
    try:
        jid = our_jid(chat_id)
    except InvalidJid:
        return ""
    return "" if is_group_jid(jid) else "+" + jid_user(jid)


def message_key(value):
    """WhatsApp's id of a message, from WAHA's serialized id (or the bare id itself)."""
    value = str(value or "")
    match = _SERIALIZED_ID.match(value)
    return match.group(2) if match else value


def serialized_chat(value):
    """The chat WAHA's serialized message id names ('true_<chat>_<ID>...'), or ''."""
    match = _SERIALIZED_ID.match(str(value or ""))
    return match.group(1) if match else ""


def sent_message_key(answer):
    """The id of the message WAHA just sent, from sendText/sendFile's answer, whatever the engine
    (WEBJS: id._serialized, NOWEB: key.id, GOWS: id); '' when the answer has none."""
    if not isinstance(answer, dict):
        return ""
    candidates = [answer.get("id"), (answer.get("key") or {}).get("id")]
    data_id = (answer.get("_data") or {}).get("id")
    candidates.append(data_id)
    for candidate in candidates:
        if isinstance(candidate, dict):
            candidate = candidate.get("_serialized") or candidate.get("id")
        if candidate and isinstance(candidate, str):
            return message_key(candidate)
    return ""


def from_timestamp(seconds):
    """WAHA's Unix timestamps (seconds; milliseconds in envelopes) -> aware datetime."""
    try:
        value = float(seconds)
        if value > 1e12:
            value /= 1000
        return datetime.fromtimestamp(value, tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return timezone.now()


CHAT_SUFFIXES = ("@c.us", "@s.whatsapp.net", "@g.us", "@lid")


class WahaError(Exception):
    """WAHA could not be reached or refused a call (connect flow, QR code)."""


class WahaClient:
    """The WAHA calls we make, for one server and session."""

    def __init__(self, base_url, api_key="", session="default"):
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.session = session

    @classmethod
    def for_settings(cls, values):
        return cls(values.get("base_url", ""), values.get("api_key", ""), values.get("session"))

    def request(self, method, path, json=None, accept="application/json"):
        """One call; returns safehttp.Response, raises safehttp.FetchError."""
        headers = {"Accept": accept}
        if self.api_key:
            headers["X-Api-Key"] = self.api_key
        return safehttp.request(
            method,
            self.base_url + path,
            headers=headers,
            json=json,
            timeout=settings.WAHA_TIMEOUT,
            # The whole call, not each wait: a send must end while its sender holds the account.
            total_timeout=settings.WAHA_TIMEOUT,
            trusted=settings.WAHA_TRUSTED_URLS,
        )

    @property
    def _path(self):
        return quote(self.session, safe="")

    def send_text(self, chat_id, text):
        body = {"session": self.session, "chatId": chat_id, "text": text}
        return self.request("POST", "/api/sendText", body)

    def send_file(self, chat_id, attachment, caption=""):
        file = {
            "mimetype": attachment.mime,
            "filename": attachment.name,
            "data": base64.b64encode(attachment.content).decode("ascii"),
        }
        body = {"session": self.session, "chatId": chat_id, "file": file, "caption": caption}
        return self.request("POST", "/api/sendFile", body)

    def number_exists(self, phone):
        """True/False from WAHA's check-exists; None when WAHA cannot tell."""
        query = f"?phone={quote(phone.lstrip('+'))}&session={self._path}"
        try:
            response = self.request("GET", "/api/contacts/check-exists" + query)
        except safehttp.FetchError:
            return None
        answer = json_of(response)
        if not response.ok or "numberExists" not in answer:
            return None
        return bool(answer["numberExists"])

    def phone_jid_of_lid(self, lid):
        """The '<digits>@c.us' WhatsApp hides behind a '<id>@lid' (WAHA's lids API), or ''."""
        path = f"/api/{self._path}/lids/{quote(lid, safe='')}"
        try:
            response = self.request("GET", path)
        except safehttp.FetchError:
            return ""
        pn = json_of(response).get("pn") if response.ok else ""
        return pn if isinstance(pn, str) else ""

    # The server and its sessions (connect flow).

    def server(self):
        """What GET /api/server/version says (version, engine, tier); unknown if it cannot say."""
        response = self._checked("GET", "/api/server/version", allow=(404,))
        return Server.from_answer(json_of(response) if response.ok else {})

    def start_session(self, config, merge):
        """Create the session with `config` and start it. A session that exists already keeps
        the config its operator gave it (other webhooks, proxy, metadata): `merge(current)`
        says what it should become, and it is updated only if that differs (WAHA restarts a
        running session it updates) and started only if it is not running."""
        body = {"name": self.session, "start": True, "config": config}
        response = self._checked("POST", "/api/sessions", body, allow=(409, 422))
        if response.ok:
            return json_of(response)
        info = self.session_info()  # WAHA answered 422: it exists already
        current = info.get("config") if isinstance(info.get("config"), dict) else {}
        wanted = merge(current)
        if wanted != current:
            body = {"name": self.session, "config": wanted}
            info = json_of(self._checked("PUT", f"/api/sessions/{self._path}", body))
        if str(info.get("status") or "").upper() in ("", "STOPPED", "FAILED"):
            info = json_of(self._checked("POST", f"/api/sessions/{self._path}/start"))
        return info

    def session_info(self):
        """{name, status, me: {id, pushName} | null, config, ...}"""
        return json_of(self._checked("GET", f"/api/sessions/{self._path}"))

    def me(self):
        return json_of(self._checked("GET", f"/api/sessions/{self._path}/me"))

    def qr_png(self):
        """The QR code to scan, as PNG bytes (WAHA answers 422 unless it waits for a scan)."""
        path = f"/api/{self._path}/auth/qr?format=image"
        response = self._checked("GET", path, accept="image/png")
        if response.content_type != "image/png":
            raise WahaError("WAHA did not answer with a QR code image")
        return response.content

    # Reading back (the reconciliation sweep).

    def recent_chats(self, limit):
        """The session's most recently active chats' ids, newest first."""
        query = f"?limit={limit}&offset=0&sortBy=conversationTimestamp&sortOrder=desc"
        answer = self._checked_list("GET", f"/api/{self._path}/chats{query}")
        ids = [obj_id(chat.get("id")) for chat in answer if isinstance(chat, dict)]
        # Contacts and groups only: status@broadcast and channels (@newsletter) are not chats.
        return [chat_id for chat_id in ids if chat_id.endswith(CHAT_SUFFIXES)]

    def chat_messages(self, chat_id, limit, since):
        """The chat's latest `limit` messages since `since` (Unix seconds), newest first."""
        query = (
            f"?limit={limit}&downloadMedia=false&sortBy=timestamp&sortOrder=desc"
            f"&filter.timestamp.gte={int(since)}"
        )
        path = f"/api/{self._path}/chats/{quote(chat_id, safe='')}/messages{query}"
        return [m for m in self._checked_list("GET", path) if isinstance(m, dict)]

    def _checked_list(self, method, path):
        response = self._checked(method, path)
        try:
            answer = json.loads(response.content or b"null")
        except ValueError:
            answer = None
        if not isinstance(answer, list):
            raise WahaError(f"WAHA answered {method} {path.split('?')[0]} with something else")
        return answer

    def _checked(self, method, path, json=None, accept="application/json", allow=()):
        try:
            response = self.request(method, path, json, accept)
        except safehttp.FetchError as exc:
            raise WahaError(f"WAHA at {self.base_url} could not be reached: {exc}") from None
        if response.ok or response.status in allow:
            return response
        raise WahaError(describe_refusal(response))


def obj_id(value):
    """A chat id as WAHA lists it: a string, or {"_serialized": ...} (WEBJS)."""
    if isinstance(value, dict):
        value = value.get("_serialized")
    return value if isinstance(value, str) else ""


def json_of(response):
    try:
        value = json.loads(response.content or b"null")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def error_text(response):
    """WAHA's own words for a refusal: NestJS {message} / {error} / {exception: {message}}."""
    body = json_of(response)
    exception = body.get("exception") if isinstance(body.get("exception"), dict) else {}
    error = body.get("error") if isinstance(body.get("error"), dict) else {}
    # A refusal with details ({"error": "Session status is not as expected...", "status": ..})
    # carries its words in `error` itself.
    details = body.get("error") if "status" in body or "expected" in body else None
    message = body.get("message") or exception.get("message") or error.get("message") or details
    if isinstance(message, list):
        message = "; ".join(str(part) for part in message)
    return str(message or response.text(300) or "no details").strip()


def describe_refusal(response):
    if response.status in (401, 403):
        return f"WAHA refused the API key (HTTP {response.status}); check the account's key."
    return f"WAHA answered HTTP {response.status}: {error_text(response)}"


class WahaTransport(Transport):
    def __init__(self, account):
        super().__init__(account)
        self.client = WahaClient.for_settings(self.settings)

    def number_exists(self, phone):
        return self.client.number_exists(phone)

    def send(self, message, attachment=None):
        if not self.account.is_connected:
            # The sender should not even try; if it does, the message waits for the phone.
            raise TransportError("The WhatsApp account is disconnected from WAHA.")
        chat = message.chat
        check_restrictions(self.settings.get("restrictions") or {}, chat)
        server = Server.from_answer(self.settings.get("server"))
        if attachment is not None and not server.sends_files:
            # Known before trying: the file fails at once, with the reason (and is refunded).
            raise TransportError(server.file_refusal, permanent=True)
        chat_id = waha_chat_id(chat.jid)
        try:
            if attachment is not None:
                response = self.client.send_file(chat_id, attachment, message.text)
            else:
                response = self.client.send_text(chat_id, message.text)
        except safehttp.FetchError as exc:
            raise TransportError(f"WAHA could not be reached: {exc}") from None
        if not response.ok:
            raise self._error(response, chat)
        return sent_message_key(json_of(response))

    def _error(self, response, chat):
        """Map WAHA's refusal to a TransportError: permanent when resending cannot help."""
        status, text = response.status, error_text(response)
        if _TIMELOCK_ERROR.search(text):
            until = governor_waha.timelock_end(self.client, self.settings, timezone.now())
            return Restricted(governor_waha.timelock_words(until), "new_contacts", until)
        if _CAPPED_ERROR.search(text):
            until = governor_waha.capping_end(self.client, self.settings, timezone.now())
            return Restricted(governor_waha.capped_words(until), "all", until)
        if _BANNED_ERROR.search(text):
            return Restricted(f"WhatsApp refused the account: {text}", "all", None)
        if status == 422 and _PLUS_ONLY.search(text):
            return TransportError(
                f"This WAHA server cannot send it: {text} (WAHA Core sends files since "
                f"{dotted(CORE_SESSIONS_AND_FILES_SINCE)}).",
                permanent=True,
            )
        if status in (401, 403):
            return TransportError(describe_refusal(response))
        if status in (404, 422) and "session" in text.lower():
            return TransportError(f"The WAHA session is not ready: {text}")
        if status in (408, 425, 429) or status >= 500:
            known = chat.number_exists  # a number check before the send (G4) already said
            if chat.phone and not known and self.client.number_exists(chat.phone) is False:
                return NotOnWhatsApp(chat.phone)
            return TransportError(f"WAHA failed to send (HTTP {status}): {text}")
        return TransportError(f"WAHA refused the message (HTTP {status}): {text}", permanent=True)


def check_restrictions(restrictions, chat):
    """Do not even try while WAHA last reported a restriction that covers the message (the
    `me` of session.status: reachoutTimelock for new contacts, messageCapping for all): the
    governor pauses what it covers, and the message waits."""
    now = timezone.now()
    capping = capped_until(restrictions)
    if capping is not None:
        until = governor_waha.end_of(restrictions["messageCapping"].get("cycleEnd"), now)
        until = until or governor_waha.default_end(now)
        raise Restricted(governor_waha.capped_words(until), "all", until)
    if chat.is_group or chat.messages.filter(direction="received").exists():
        return
    if active_timelock(restrictions) is not None:
        ends = restrictions["reachoutTimelock"].get("timeEnforcementEnds")
        until = governor_waha.end_of(ends, now) or governor_waha.default_end(now)
        raise Restricted(governor_waha.timelock_words(until), "new_contacts", until)


def active_timelock(restrictions):
    """' until <date>' (or '') while WhatsApp's reachout timelock holds; None otherwise."""
    timelock = (restrictions or {}).get("reachoutTimelock") or {}
    if not isinstance(timelock, dict) or not timelock.get("isActive"):
        return None
    ends = timelock.get("timeEnforcementEnds")
    if ends and parse_time(ends) <= timezone.now():
        return None
    return f" until {shown_time(ends)}" if ends else ""


def capped_until(restrictions):
    """' until <date>' (or '') while WhatsApp's message capping holds; None otherwise."""
    capping = (restrictions or {}).get("messageCapping") or {}
    if not isinstance(capping, dict) or str(capping.get("cappingStatus", "")).upper() != "CAPPED":
        return None
    if capping.get("cycleEnd") and parse_time(capping["cycleEnd"]) <= timezone.now():
        return None
    return f" until {shown_time(capping['cycleEnd'])}" if capping.get("cycleEnd") else ""


def describe_restrictions(restrictions):
    """The restrictions in force, in words, with their end times as dates (accounts page)."""
    notes = []
    timelock = active_timelock(restrictions)
    if timelock is not None:
        notes.append(f"WhatsApp restricts starting new chats{timelock} (reachout timelock).")
    capping = capped_until(restrictions)
    if capping is not None:
        notes.append(f"WhatsApp's quota of new chats is used up{capping} (message capping).")
    return notes


def shown_time(value):
    """WAHA's end time (Unix seconds or milliseconds, or ISO 8601) as 'YYYY-MM-DD HH:MM UTC'."""
    when = parse_time(value)
    if when.year == datetime.max.year:
        return str(value)[:40]
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def parse_time(value):
    """An ISO 8601 string or a Unix timestamp -> aware datetime (far future if unreadable)."""
    if isinstance(value, int | float) or str(value).isdigit():
        return from_timestamp(value)
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return datetime.max.replace(tzinfo=UTC)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
