"""A fake WAHA: a real HTTP server on 127.0.0.1 that implements the calls Timelines makes,
records them, answers what a test asks, and signs events the way WAHA does."""

import hashlib
import hmac
import json
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


def fixture(name, **changes):
    """A captured WAHA event body from tests/fixtures/waha/, with top-level or payload
    fields changed (`payload__body="hi"` changes payload.body)."""
    event = json.loads((FIXTURES / f"{name}.json").read_text())
    for key, value in changes.items():
        target, field = (event["payload"], key[9:]) if key.startswith("payload__") else (event, key)
        target[field] = value
    return event


def sign(body, key):
    return hmac.new(key.encode(), body, hashlib.sha512).hexdigest()


class FakeWaha:
    """Answers like WAHA; `calls` records (method, path, json body, headers)."""

    def __init__(self, api_key="waha-key"):
        self.api_key = api_key
        self.calls = []
        self.replies = {}  # (method, path) -> list of (status, body) answered once each, in order
        self.delay = 0.0
        self.status = "SCAN_QR_CODE"
        self.me = {"id": "15105566777@c.us", "pushName": "Acme phone"}
        self.sessions = set()
        self.numbers = {}  # phone digits -> exists?
        self.lids = {}  # '<id>@lid' -> '<digits>@c.us' WAHA knows
        self.files = {}  # path -> (content type, bytes): downloads such as a message's file_url
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

    # The calls WAHA implements (only those Timelines makes).

    def answer(self, method, path, body):
        if self.replies.get((method, path)):
            return self.replies[(method, path)].pop(0)
        if path in ("/api/sendText", "/api/sendFile"):
            return 201, self._sent(body)
        if path == "/api/sessions" and method == "POST":
            return self._create(body)
        if path.startswith("/api/contacts/check-exists"):
            phone = parse_qs(urlsplit(path).query)["phone"][0]
            return 200, {"numberExists": self.numbers.get(phone, True), "chatId": phone + "@c.us"}
        return self._session_call(method, path)

    def _sent(self, body):
        key = "3EB0" + uuid.uuid4().hex[:16].upper()
        serialized = f"true_{body['chatId']}_{key}"
        return {"id": {"fromMe": True, "id": key, "_serialized": serialized + "_out"}}

    def _create(self, body):
        if body["name"] in self.sessions:
            return 422, {"statusCode": 422, "message": f"Session '{body['name']}' already exists"}
        self.sessions.add(body["name"])
        return 201, {"name": body["name"], "status": "STARTING", "config": body.get("config")}

    def _session_call(self, method, path):
        parts = [unquote(part) for part in path.strip("/").split("/")]
        if len(parts) == 4 and parts[2] == "lids":
            return 200, {"lid": parts[3], "pn": self.lids.get(parts[3])}
        if parts[-2:] == ["auth", "qr"]:
            if self.status != "SCAN_QR_CODE":
                return 422, {"statusCode": 422, "message": "Can get QR code only in SCAN_QR_CODE"}
            return 200, PNG
        if parts[-1] == "me":
            return 200, self.me if self.status == "WORKING" else None
        if method == "GET":
            me = self.me if self.status == "WORKING" else None
            return 200, {"name": parts[2], "status": self.status, "me": me}
        return 201 if method == "POST" else 200, {"name": parts[2], "status": "STARTING"}

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
                else:
                    status, answer = fake.answer(self.command, self.path, body)
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
