"""A real HTTP receiver on 127.0.0.1 for the outbound webhook's tests: it records every request
and answers what the test tells it (a status, headers, a body, after a delay)."""

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures" / "outbound"


def seed_example(name):
    """The seed's own payload examples (seed 004), the compatibility contract."""
    return json.loads((FIXTURES / f"{name}.json").read_text())


def shape(value):
    """Key sets at every level (lists: the shape of their items), for comparing with the seed."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)


@dataclass
class Answer:
    status: int = 200
    headers: dict = field(default_factory=dict)
    body: bytes = b"ok"
    delay: float = 0.0


class Receiver:
    def __init__(self):
        self.requests = []
        self.answers = []  # consumed in order; when empty, `default` answers
        self.default = Answer()
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def answer(self, *answers):
        self.answers.extend(answers)

    def bodies(self):
        return [r.json() for r in self.requests]

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def _next(self, received):
        with self._lock:
            self.requests.append(received)
            return self.answers.pop(0) if self.answers else self.default

    def _handler(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                answer = receiver._next(Received(self.path, dict(self.headers), body))
                if answer.delay:
                    time.sleep(answer.delay)
                self.send_response(answer.status)
                for key, value in answer.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                try:
                    self.wfile.write(answer.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (the timeout tests)

            def log_message(self, *args):
                pass

        return Handler


def closed_port_url():
    """A URL on 127.0.0.1 where nothing listens: connections are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


def switch_off_over_the_api(client, endpoint, token):
    """PATCH a v2 endpoint's `enabled` to false over the management API with `token`."""
    return client.patch(
        f"/integrations/api/webhooks/{endpoint.pk}",
        json.dumps({"enabled": False}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
