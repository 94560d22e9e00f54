"""A fake WAHA: a real HTTP server on 127.0.0.1 that implements the calls Timelines makes the way
WAHA does (its OpenAPI spec of 2026.7.1, tests/fixtures/waha/openapi-subset.json), records them and
its answers, and builds the events WAHA would post, signed.

It answers as one engine (WEBJS, NOWEB or GOWS: each engine's own layout of a message) of one
version and tier: Core before 2024.11.5 (no HMAC), Core before 2026.6.1 (only the `default`
session, no sendFile: WAHA's own 422 "available only in Plus version"), a current Core, or Plus.

WhatsApp's restrictions (SPEC G3): with `timelock` active, a send to a chat that never exchanged
a message is refused with error 463 (reachout timelock; existing chats go on); with `capping`
CAPPED, every send is refused with error 475. WAHA passes WhatsApp's refusal on as a 500 whose
exception message carries the code, and blocks nothing itself. Servers of 2026.8 and later also
answer `GET /api/sessions/{session}/capping` and `/timelock`; older ones answer 404 as NestJS
does for an unknown route. The docs we could read (WAHA's repositories as fetched, and
../shared/waha at 2026.7.1) predate 2026.8, so the shapes here come from WAHA's pull request
#2186 (MessageCappingData: cappingStatus NONE / FIRST_WARNING / SECOND_WARNING / CAPPED,
totalQuota (-1: no cap), usedQuota, cycleStart, cycleEnd, mvStatus, oteStatus; the capping is
fetched from WhatsApp by the GOWS engine only, so other engines answer 501 Not Implemented) and
from the `me.messageCapping` / `me.reachoutTimelock` objects the session already carries.
"""

import hashlib
import hmac
import itertools
import json
import random
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

FIXTURES = Path(__file__).parent / "fixtures" / "waha"
# A tiny valid PNG: the QR code the fake shows.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d4944415478da63f8cfc0f01f0005000201a5f1b3900000000049454e44ae426082"
)
DOCS_URL = "https://waha.devlike.pro/"
NOT_AS_EXPECTED = "Session status is not as expected. Try again later or restart the session"
ME = "15105566777@c.us"

# The version/tier combinations whose behaviour differs for Timelines.
CORE_OLD = {"version": "2024.10.8", "tier": "CORE"}  # unsigned events, one session, no files
CORE_NO_FILES = {"version": "2025.12.2", "tier": "CORE"}  # signed, but one session, no files
CORE_NEW = {"version": "2026.7.1", "tier": "CORE"}
PLUS = {"version": "2025.12.2", "tier": "PLUS"}


def fixture(name, **changes):
    """A captured WAHA event body from tests/fixtures/waha/ (`webjs/message_ack` for an engine's
    own), with top-level or payload fields changed (`payload__body="hi"` changes payload.body)."""
    event = json.loads((FIXTURES / f"{name}.json").read_text())
    for key, value in changes.items():
        target, field = (event["payload"], key[9:]) if key.startswith("payload__") else (event, key)
        target[field] = value
    return event


def sign(body, key):
    return hmac.new(key.encode(), body, hashlib.sha512).hexdigest()


def version_tuple(version):
    return tuple(int(part) for part in version.split("."))


def unprocessable(message):
    """NestJS's UnprocessableEntityException(message), as WAHA answers it."""
    return 422, {"message": message, "error": "Unprocessable Entity", "statusCode": 422}


class FakeWaha:
    """Answers like WAHA; `calls` records (method, path, json body, headers) and `answers`
    (method, path, status, body) of every call."""

    def __init__(self, api_key="waha-key", engine="WEBJS", version="2026.7.1", tier="CORE"):
        self.api_key = api_key
        self.engine, self.version, self.tier = engine, version, tier
        self.calls, self.answers = [], []
        self.sent = []  # (time.time(), chat id, text or caption, "sendText" or "sendFile")
        self.refused = []  # (time.time(), chat id, WhatsApp's error code): restricted sends
        self.replies = {}  # (method, path) -> list of (status, body) answered once each, in order
        self.delay = 0.0
        self.status = "SCAN_QR_CODE"  # of every session (the fake links one phone)
        self.me = {"id": ME, "pushName": "Acme phone"}
        self.sessions = {}  # name -> config
        self.numbers = {}  # phone digits -> exists?
        self.lids = {}  # '<id>@lid' -> '<digits>@c.us' WAHA knows
        self.names = {}  # '<digits>@c.us' -> push name
        self.files = {}  # path -> (content type, bytes): downloads such as a message's file_url
        self.history = {}  # chat id -> [message payloads], oldest first (WAHA's message store)
        # Received files WAHA keeps (behind its API key) until WHATSAPP_FILES_LIFETIME: path ->
        # (content type, bytes); and every message's file as WhatsApp still has it (serialized
        # id -> (mimetype, file name, bytes)), which `downloadMedia=true` fetches again.
        self.media_files, self.whatsapp_media = {}, {}
        self.media_base = None  # WAHA_BASE_URL: the origin WAHA writes into media.url
        # WhatsApp's restrictions on the account (see the module's docstring).
        self.timelock = {"isActive": False, "timeEnforcementEnds": None}
        self.capping = {
            "cappingStatus": "NONE",
            "totalQuota": -1,
            "usedQuota": 0,
            "cycleStart": None,
            "cycleEnd": None,
            "mvStatus": None,
            "oteStatus": None,
        }
        self.drop_rate, self.random = 0.0, random.Random(12)
        self.clock = itertools.count(int(time.time()) - 3600)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.server.block_on_close = False  # a test that timed out does not wait for the reply
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def reply(self, method, path, status, body=None):
        """Answer the next `method path` call with `status` and `body` instead of the default."""
        self.replies.setdefault((method, path), []).append((status, body))

    def paths(self, method=None):
        return [path for m, path, _, _ in self.calls if method in (None, m)]

    def bodies(self, path):
        return [body for _, p, body, _ in self.calls if p == path]

    def since(self, version):
        return version_tuple(self.version) >= version_tuple(version)

    @property
    def core_without_plus(self):
        """Core before 2026.6.1: one session, no files."""
        return self.tier == "CORE" and not self.since("2026.6.1")

    # Messages as this engine shapes them, and the events that report them.

    def message(self, chat, body, from_me=False, participant=None, source="app", key=None):
        """A new message in WAHA's store: `chat` '<digits>@c.us' or '<id>@g.us', `participant`
        the sender in a group. Returns its payload, in this engine's layout."""
        key = key or "3EB0" + uuid.uuid4().hex[:16].upper()
        group = chat.endswith("@g.us")
        sender = ME if from_me else (participant if group else chat)
        serialized = f"{'true' if from_me else 'false'}_{chat}_{key}"
        payload = {
            "id": serialized,
            "timestamp": next(self.clock),
            "fromMe": from_me,
            "body": body,
            "hasMedia": False,
            "media": None,
            "ack": 1,
            "ackName": "SERVER",
            "vCards": [],
        }
        payload.update(SHAPES[self.engine](self, chat, key, sender, from_me, group, serialized))
        self.history.setdefault(chat, []).append(payload)
        return {**payload, "source": source}

    def message_with_file(self, chat, content, mimetype, filename, body="", **options):
        """A message carrying a file, as WAHA reports it when it downloaded the file: media.url
        on WAHA's own origin (`media_base`, its WAHA_BASE_URL), served behind the API key."""
        payload = self.message(chat, body, **options)
        payload["hasMedia"] = True
        self.whatsapp_media[payload["id"]] = (mimetype, filename, content)
        payload["media"] = self._media(payload["id"])
        stored = self.history[chat][-1]
        stored.update(hasMedia=True, media=payload["media"])
        return payload

    def _media(self, serialized):
        mimetype, filename, content = self.whatsapp_media[serialized]
        path = f"/api/files/default/{serialized}.{uuid.uuid4().hex[:6]}"
        self.media_files[path] = (mimetype, content)
        return {
            "url": (self.media_base or self.url) + path,
            "mimetype": mimetype,
            "filename": filename,
        }

    def expire_files(self):
        """WAHA deletes its copies after WHATSAPP_FILES_LIFETIME (180 s by default)."""
        self.media_files.clear()

    def _chat_message(self, chat, serialized, query):
        found = [m for m in self.history.get(chat, []) if m["id"] == serialized]
        if not found:
            return 404, {"statusCode": 404, "message": "Message not found", "error": "Not Found"}
        payload = dict(found[0])
        download = query.get("downloadMedia", ["true"])[0] != "false"
        if payload.get("hasMedia") and download and serialized in self.whatsapp_media:
            payload["media"] = self._media(serialized)  # downloaded from WhatsApp again
        elif payload.get("hasMedia") and download:  # WhatsApp no longer has it either
            payload["media"] = {"error": {"message": "Media not found on WhatsApp servers"}}
        return 200, payload

    def event(self, payload, event="message.any", session="default"):
        """The envelope WAHA posts for `payload`."""
        return {
            "id": "evt_" + uuid.uuid4().hex[:26],
            "timestamp": int(time.time() * 1000),
            "event": event,
            "session": session,
            "metadata": {},
            "me": self.me,
            "payload": payload,
            "engine": self.engine,
            "environment": self._version(),
        }

    def ack(self, chat, key, name, participant=None):
        """message.ack (or message.ack.group in a group, since 2025.12.2) for our message."""
        number = {"ERROR": -1, "PENDING": 0, "SERVER": 1, "DEVICE": 2, "READ": 3, "PLAYED": 4}
        group = chat.endswith("@g.us")
        payload = {
            "id": f"true_{chat}_{key}",
            "from": chat,
            "to": participant if group and self.engine == "GOWS" else chat,
            "participant": participant if group else None,
            "fromMe": True,
            "ack": number[name],
            "ackName": name,
        }
        if group and not self.since("2025.12.2"):
            return None  # older servers never report group acks
        return self.event(payload, "message.ack.group" if group else "message.ack")

    def deliver(self, post, event):
        """Post `event` with `post` unless this delivery is one the fake drops (drop_rate):
        WAHA's trackers show events that never fire. True if it was posted."""
        if event is None or self.random.random() < self.drop_rate:
            return False
        post(event)
        return True

    # The calls WAHA implements (those Timelines makes).

    def answer(self, method, path, body):
        if self.replies.get((method, path)):
            return self.replies[(method, path)].pop(0)
        route = urlsplit(path).path
        if route == "/api/server/version":
            return 200, self._version()
        if route in ("/api/sendText", "/api/sendFile"):
            return self._send(route, body)
        if route == "/api/sessions" and method == "POST":
            return self._create(body)
        if route == "/api/contacts/check-exists":
            phone = parse_qs(urlsplit(path).query)["phone"][0]
            return 200, {"numberExists": self.numbers.get(phone, True), "chatId": phone + "@c.us"}
        return self._session_call(method, path, body)

    def _version(self):
        browser = "/usr/bin/chromium" if self.engine == "WEBJS" else None
        return {
            "version": self.version,
            "engine": self.engine,
            "tier": self.tier,
            "browser": browser,
            "platform": "linux/x64",
            "worker": {"id": None},
        }

    def _send(self, route, body):
        if route == "/api/sendFile" and self.core_without_plus:
            return unprocessable(
                f"The feature is available only in Plus version. Check this out: {DOCS_URL}"
            )
        refusal = self._restricted(body["chatId"])
        if refusal:
            self.refused.append((time.time(), body["chatId"], refusal))
            message = f"2 UNKNOWN: server returned error {refusal}"
            return 500, {"statusCode": 500, "exception": {"message": message}}
        text = body.get("text") or body.get("caption") or ""
        self.sent.append((time.time(), body["chatId"], text, route.rsplit("/", 1)[1]))
        sent = self.message(body["chatId"], text, True)
        sent.pop("source")
        key = sent["id"].split("_")[2]
        # A WAMessage (the spec's answer), with the engine's raw send result beside it.
        if self.engine == "WEBJS":
            raw = {"fromMe": True, "remote": body["chatId"], "id": key}
            return 201, {**sent, "_data": {"id": {**raw, "_serialized": sent["id"] + "_out"}}}
        if self.engine == "NOWEB":
            jid = _jid(body["chatId"])
            return 201, {**sent, "key": {"remoteJid": jid, "fromMe": True, "id": key}}
        return 201, sent

    def _restricted(self, chat):
        """WhatsApp's error code for a send to `chat` under the restrictions in force, or None."""
        if str(self.capping.get("cappingStatus")).upper() == "CAPPED":
            return 475
        exchanged = self.history.get(chat) or any(c == chat for _, c, _, _ in self.sent)
        if self.timelock.get("isActive") and not exchanged and not chat.endswith("@g.us"):
            return 463
        return None

    def _create(self, body):
        name = body.get("name") or "session_" + uuid.uuid4().hex[:8]
        if name in self.sessions:
            return unprocessable(f"Session '{name}' already exists. Use PUT to update it.")
        if name != "default" and self.core_without_plus:
            return unprocessable(
                "WAHA Core support only 'default' session. If you want to run more then one "
                f"WhatsApp account - please get WAHA PLUS version. Check this out: {DOCS_URL}"
            )
        self.sessions[name] = body.get("config") or {}
        return 201, self._session(name, "STARTING" if body.get("start") else "STOPPED")

    def _session(self, name, status=None):
        status = status or self.status
        return {
            "name": name,
            "status": status,
            "config": self.sessions.get(name) or {},
            "me": self.me if status == "WORKING" else None,
            "engine": {"engine": self.engine},
            "presence": None,
            "timestamps": {"activity": None},
        }

    def _session_call(self, method, path, body):
        route, query = urlsplit(path).path, parse_qs(urlsplit(path).query)
        parts = [unquote(part) for part in route.strip("/").split("/")]
        if parts[:2] == ["api", "sessions"]:
            return self._sessions(method, parts[2:], body)
        session = parts[1]
        if session not in self.sessions:
            return 404, {
                "statusCode": 404,
                "message": f'Session "{session}" not found',
                "error": "Not Found",
            }
        rest = parts[2:]
        if rest[:1] == ["lids"] and len(rest) == 2:
            if not self.since("2025.5.4"):
                return 404, {
                    "message": f"Cannot GET {route}",
                    "error": "Not Found",
                    "statusCode": 404,
                }
            return 200, {"lid": rest[1], "pn": self.lids.get(rest[1])}
        if rest == ["auth", "qr"]:
            if self.status != "SCAN_QR_CODE":
                return 422, {
                    "error": NOT_AS_EXPECTED,
                    "session": session,
                    "status": self.status,
                    "expected": ["SCAN_QR_CODE"],
                }
            return 200, PNG
        if rest == ["chats"]:
            return 200, self._chats(query)
        if len(rest) == 4 and rest[0] == "chats" and rest[2] == "messages":
            return self._chat_message(rest[1], rest[3], query)
        if len(rest) == 3 and rest[0] == "chats" and rest[2] == "messages":
            return 200, self._messages(rest[1], query)
        return 404, {"message": f"Cannot {method} {route}", "error": "Not Found", "statusCode": 404}

    def _sessions(self, method, rest, body):
        name = rest[0]
        if name not in self.sessions:
            return 404, {
                "statusCode": 404,
                "message": f'Session "{name}" not found',
                "error": "Not Found",
            }
        if rest[1:] == ["me"]:
            return 200, self.me if self.status == "WORKING" else None
        if rest[1:] == ["start"]:
            return 201, self._session(name)
        if rest[1:] in (["capping"], ["timelock"]) and method == "GET":
            if not self.since("2026.8.0"):
                route = "/api/sessions/" + "/".join(rest)
                answer = {"message": f"Cannot GET {route}", "error": "Not Found"}
                return 404, {**answer, "statusCode": 404}
            if rest[1] == "capping" and self.engine != "GOWS":
                message = f"The method is not implemented for the {self.engine} engine."
                return 501, {"statusCode": 501, "message": message, "error": "Not Implemented"}
            return 200, dict(self.capping if rest[1] == "capping" else self.timelock)
        if method == "PUT":
            # WAHA restarts a session it updates, unless it is stopped.
            self.sessions[name] = body.get("config") or {}
            return 200, self._session(name, "STOPPED" if self.status == "STOPPED" else "STARTING")
        return 200, self._session(name)

    def _chats(self, query):
        limit = int(float(query.get("limit", ["100"])[0]))
        latest = sorted(self.history, key=lambda chat: -self.history[chat][-1]["timestamp"])
        return [
            {
                "id": chat,
                "name": self.names.get(chat),
                "conversationTimestamp": self.history[chat][-1]["timestamp"],
            }
            for chat in latest[:limit]
        ]

    def _messages(self, chat, query):
        limit = int(float(query["limit"][0]))
        since = float(query.get("filter.timestamp.gte", ["0"])[0])
        found = [m for m in self.history.get(chat, []) if m["timestamp"] >= since]
        return list(reversed(found))[:limit]

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                fake.calls.append((self.command, self.path, body, dict(self.headers)))
                if fake.delay:
                    time.sleep(fake.delay)
                if self.path in fake.files:  # a plain download, no key needed
                    status, answer = 200, fake.files[self.path]
                elif fake.api_key and self.headers.get("X-Api-Key") != fake.api_key:
                    status, answer = 401, {"message": "Unauthorized", "statusCode": 401}
                elif self.path.startswith("/api/files/"):
                    found = fake.media_files.get(self.path)
                    status, answer = (200, found) if found else (404, {"message": "Not Found"})
                else:
                    status, answer = fake.answer(self.command, self.path, body)
                fake.answers.append((self.command, self.path, status, answer))
                self._write(status, answer)

            def _write(self, status, answer):
                if isinstance(answer, tuple):  # a file: (content type, bytes)
                    content_type, data = answer
                elif isinstance(answer, bytes):
                    content_type, data = "image/png", answer
                else:
                    content_type, data = "application/json", json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up (timeout tests)

            do_GET = do_POST = do_PUT = _serve

            def log_message(self, *args):
                pass

        return Handler


# Each engine's own fields of a message (WAHA's engines, read in its source and docs): who is in
# `from` and `to`, how the sender of a group message is named, and the engine's raw `_data`.


def _webjs(fake, chat, key, sender, from_me, group, serialized):
    """whatsapp-web.js: `from` is the sender, `to` the receiver (our number for what we get);
    a group message's id ends with its author."""
    fields = {"from": ME if from_me else chat, "to": chat if from_me else ME}
    data_id = {"fromMe": from_me, "remote": chat, "id": key, "_serialized": serialized}
    if group and not from_me:
        fields["id"] = serialized + "_" + sender
        fields["participant"] = fields["author"] = sender
        data_id.update(participant=sender, _serialized=fields["id"])
    data = {"id": data_id, "type": "chat", "self": "out" if from_me else "in"}
    if not from_me and fake.names.get(sender):
        data["notifyName"] = fake.names[sender]
    return {**fields, "_data": data}


def _jid(chat_id):
    return chat_id.replace("@c.us", "@s.whatsapp.net")


def _noweb(fake, chat, key, sender, from_me, group, serialized):
    """Baileys: `from` is the chat (key.remoteJid) both ways; `to` only in groups."""
    data_key = {"remoteJid": _jid(chat), "fromMe": from_me, "id": key}
    fields = {"from": chat}
    if group:
        fields.update(to=chat, participant=sender)
        data_key["participant"] = _jid(sender)
    data = {"key": data_key, "pushName": fake.names.get(sender, ""), "status": 2}
    return {**fields, "_data": data}


def _gows(fake, chat, key, sender, from_me, group, serialized):
    """whatsmeow: `from` is the chat (Info.Chat) both ways; `to` empty in direct chats and the
    sender in groups."""
    fields = {"from": chat, "to": sender if group else ""}
    if group:
        fields["participant"] = sender
    info = {
        "Chat": _jid(chat),
        "Sender": _jid(sender),
        "IsFromMe": from_me,
        "IsGroup": group,
        "ID": key,
        "PushName": fake.names.get(sender, ""),
    }
    return {**fields, "_data": {"Info": info}}


SHAPES = {"WEBJS": _webjs, "NOWEB": _noweb, "GOWS": _gows}
