"""SPEC P9 on the WAHA events URL: bodies are read like every machine-facing API's (chunked or
with a Content-Length, 413 over 2.5 MB, 400 for what is not JSON or nested too deeply), every
answer is JSON (never Django's HTML pages), a client's mistake leaves no traceback in the log,
and a bug of ours is a JSON 500, logged once."""

import json
import logging

import pytest

from tests.bodies import Trickle, chunked, nested, tracebacks
from tests.fake_waha import fixture, sign
from whatsapp import waha_events, waha_webhook
from whatsapp.models import Message


@pytest.fixture
def send(client, waha_connection):
    def call(raw, signed=True, method="POST", secret=None, framing="length"):
        meta = chunked(raw) if framing == "chunked" else {"wsgi.input": Trickle(raw)}
        if framing == "length":
            meta.update(CONTENT_LENGTH=str(len(raw)), CONTENT_TYPE="application/json")
        if signed:
            meta["HTTP_X_WEBHOOK_HMAC"] = sign(raw, waha_connection.hmac_key)
        path = f"/whatsapp/waha/{secret or waha_connection.secret}/"
        response = client.generic(method, path, b"", **meta)
        assert response["Content-Type"] == "application/json", response.content[:200]
        return response.status_code, response.json()

    return call


def test_it_stores_a_chunked_event(send, waha_account):
    raw = json.dumps(fixture("message_any_received")).encode()
    assert send(raw, framing="chunked") == (200, {"status": "stored"})
    assert Message.objects.count() == 1


def test_a_body_over_the_limit_is_a_json_413_without_a_traceback(send, waha_account, caplog):
    raw = json.dumps({**fixture("message_any_received"), "pad": "p" * 2_700_000}).encode()
    status, body = send(raw)
    assert status == 413 and "larger than 2560 KB" in body["error"]
    assert send(raw, framing="chunked")[0] == 413
    assert tracebacks(caplog) == [] and Message.objects.count() == 0


@pytest.mark.parametrize("depth", [101, 30_000])
def test_json_nested_too_deeply_is_a_400_without_a_traceback(send, waha_account, caplog, depth):
    status, body = send(nested(depth))
    assert status == 400 and "nested" in body["error"]
    assert tracebacks(caplog) == []


def test_a_body_that_is_not_json_is_a_400(send, waha_account):
    status, body = send(b'{"event": "message.any"')
    assert status == 400 and "not valid JSON" in body["error"]


def test_an_unknown_secret_is_a_json_404(send, waha_account):
    assert send(b"{}", signed=False, secret="nope") == (404, {"error": "No such WAHA connection."})


def test_another_method_is_a_json_405(send, waha_account):
    status, body = send(b"", signed=False, method="GET")
    assert status == 405 and "POST" in body["error"]


def test_a_bug_of_ours_is_a_json_500_logged_once(send, waha_account, caplog, monkeypatch):
    def broken(connection, event):
        raise RuntimeError("a bug")

    monkeypatch.setitem(waha_events.HANDLERS, "message.any", broken)
    with caplog.at_level(logging.INFO):
        answer = send(json.dumps(fixture("message_any_received")).encode())
    assert answer == (500, {"error": "Internal error."})
    logged = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(logged) == 1 and logged[0].name == waha_webhook.log.name
    assert "RuntimeError: a bug" in caplog.text
