"""A request sent with `Transfer-Encoding: chunked` has no Content-Length. When the server has
de-chunked it and says the input ends where the body ends (wsgi.input_terminated, as gunicorn
does), its body is read like any other, 64 KB limit included; without that promise, the body is
read no further than Content-Length, as Django does."""

import hashlib
import json
import os
import socket
import subprocess
import sys
from http.client import HTTPConnection
from pathlib import Path

import pytest
from django.test import RequestFactory
from gunicorn.http.errors import ChunkMissingTerminator, InvalidChunkSize, NoMoreData

from tests.bodies import Trickle, chunked
from tests.inbound_helpers import assert_error
from webhooks.inbound.models import MAX_BODY_BYTES, Attempt
from webhooks.inbound.service import Call
from whatsapp.models import Message

ROOT = Path(__file__).resolve().parent.parent
SEND = {"action": "send", "phone": "+14151231234", "text": "Sent in chunks"}


def post_chunked(client, webhook, body, terminated=True):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.generic("POST", webhook.path, b"", **chunked(raw, terminated))


def test_it_reads_the_whole_body_of_a_chunked_request_in_short_reads(rf: RequestFactory):
    body = json.dumps({**SEND, "text": "x" * 5000}).encode()
    call = Call.from_request(rf.generic("POST", "/", b"", **chunked(body)))
    assert call.raw == body and call.size == len(body)


def test_it_reads_at_most_one_byte_past_64_kb_of_a_chunked_body(rf: RequestFactory):
    call = Call.from_request(rf.generic("POST", "/", b"", **chunked(b"y" * (MAX_BODY_BYTES * 3))))
    assert len(call.raw) == call.size == MAX_BODY_BYTES + 1


@pytest.mark.django_db
def test_it_accepts_a_chunked_request_when_the_server_ends_the_input(
    client, inbound_webhook, account
):
    response = post_chunked(client, inbound_webhook, SEND)
    assert response.status_code == 200, response.content
    message = Message.objects.get(message_id=response.json()["data"]["message_id"])
    assert message.text == "Sent in chunks" and message.status == Message.QUEUED
    assert Attempt.objects.get().body_size == len(json.dumps(SEND))


@pytest.mark.django_db
def test_it_answers_413_to_a_chunked_body_above_64_kb(client, inbound_webhook, account):
    response = post_chunked(client, inbound_webhook, {**SEND, "text": "z" * MAX_BODY_BYTES})
    assert_error(response, 413, "64 KB")
    attempt = Attempt.objects.get()
    assert attempt.body_size == MAX_BODY_BYTES + 1 and len(attempt.body) == MAX_BODY_BYTES
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_it_reads_no_further_than_content_length_without_the_servers_promise(
    client, inbound_webhook, account
):
    # The input may not end where the body does (a kept-alive connection): reading it to its
    # end could block, or take the next request's bytes.
    response = post_chunked(client, inbound_webhook, SEND, terminated=False)
    assert_error(response, 400, "body is empty")


class BadChunks(Trickle):
    """An input whose reader fails the way gunicorn's does on a malformed chunked body."""

    def __init__(self, error):
        super().__init__(b"")
        self.error = error

    def read(self, size=-1):
        raise self.error


@pytest.mark.django_db
@pytest.mark.parametrize(
    "error",
    [InvalidChunkSize(b"zz"), ChunkMissingTerminator(b"xx"), NoMoreData(b"")],
    ids=["bad-size", "no-terminator", "truncated"],
)
def test_it_answers_400_when_the_server_cannot_read_the_body(client, inbound_webhook, error):
    meta = {**chunked(b""), "wsgi.input": BadChunks(error)}
    response = client.generic("POST", inbound_webhook.path, b"", **meta)
    assert_error(response, 400, "could not be read", type(error).__name__)
    assert Attempt.objects.get().status == 400 and not Message.objects.exists()


@pytest.mark.django_db
def test_a_content_length_that_overflows_is_trusted_only_for_the_413(client, inbound_webhook):
    meta = {"wsgi.input": Trickle(b"{}"), "CONTENT_LENGTH": "9" * 40}
    response = client.generic("POST", inbound_webhook.path, b"", **meta)
    assert_error(response, 413, "64 KB")
    assert Attempt.objects.get().body_size == 2**31 - 1


@pytest.mark.django_db
def test_a_body_shorter_than_its_content_length_is_a_400(client, inbound_webhook, account):
    body = json.dumps(SEND).encode()
    meta = {"wsgi.input": Trickle(body), "CONTENT_LENGTH": str(len(body) + 1)}
    response = client.generic("POST", inbound_webhook.path, b"", **meta)
    assert_error(response, 400, f"ended after {len(body)} of the {len(body) + 1} bytes")
    assert not Message.objects.exists()


# -- Through a real gunicorn -------------------------------------------------------------------

APP = """
import json
import django
django.setup()
from django.core.handlers.wsgi import WSGIRequest
from webhooks.inbound.service import Call

def application(environ, start_response):
    call = Call.from_request(WSGIRequest(environ))
    body = json.dumps({"size": call.size, "sha256": call.body_sha256}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]
"""


@pytest.fixture
def gunicorn(tmp_path):
    """gunicorn on 127.0.0.1 serving an app that answers what Call.from_request read. It needs
    no database: the view's handling of a body is proven above, the server's environ here."""
    (tmp_path / "chunked_app.py").write_text(APP)
    listener = socket.create_server(("127.0.0.1", 0))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(tmp_path)]),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"fd://{listener.fileno()}", "chunked_app"],
        cwd=ROOT,
        env=env,
        pass_fds=[listener.fileno()],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield listener.getsockname()[1]  # connections queue on the socket until gunicorn is up
    finally:
        server.terminate()
        server.wait(timeout=30)
        listener.close()


def chunked_post(port, body):
    connection = HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        pieces = (body[n : n + 4096] for n in range(0, len(body), 4096))
        connection.request("POST", "/", body=pieces, headers={"Content-Type": "application/json"})
        return json.loads(connection.getresponse().read())
    finally:
        connection.close()


@pytest.mark.slow
def test_it_reads_a_chunked_post_through_gunicorn(gunicorn):
    body = json.dumps({**SEND, "text": "w" * 20000}).encode()
    assert chunked_post(gunicorn, body) == {
        "size": len(body),
        "sha256": hashlib.sha256(body).hexdigest(),
    }
    assert chunked_post(gunicorn, b"v" * (MAX_BODY_BYTES * 2))["size"] == MAX_BODY_BYTES + 1
