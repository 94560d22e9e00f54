"""SPEC P9 on the management API: its bodies are read like the inbound endpoint's (chunked or
with a Content-Length, 413 over 64 KB, 400 for what is not JSON or nested too deeply), in its own
error shape, and a client's mistake never leaves a traceback in the log; a bug of ours is a 500
in that shape, logged once."""

import json
import logging

import pytest

from tests.bodies import Trickle, chunked, nested, tracebacks
from webhooks.endpoints import api
from webhooks.endpoints.models import Endpoint

BASE = "/integrations/api/webhooks"
URL = "https://example.com/hook"


@pytest.fixture
def endpoint(workspace):
    return Endpoint.create(workspace, url=URL, event_type="message:new")


@pytest.fixture
def send(client, api_token):
    def call(method, path, raw=None, **meta):
        if raw is not None:
            meta = {"wsgi.input": Trickle(raw), "CONTENT_LENGTH": str(len(raw)), **meta}
        meta.setdefault("CONTENT_TYPE", "application/json")
        meta["HTTP_AUTHORIZATION"] = f"Bearer {api_token}"
        response = client.generic(method, path, b"", **meta)
        return response.status_code, response.json()

    return call


def assert_error(answer, status, words):
    assert answer[0] == status, answer
    assert answer[1]["status"] == "error" and set(answer[1]) == {"status", "message"}
    assert words in answer[1]["message"], answer[1]["message"]


def test_it_reads_a_chunked_patch(send, endpoint):
    status, body = send("PATCH", f"{BASE}/{endpoint.pk}", **chunked(b'{"enabled": false}'))
    assert status == 200 and body["data"]["enabled"] is False
    assert Endpoint.objects.get(pk=endpoint.pk).enabled is False


def test_it_checks_a_chunked_url_change(send, endpoint):
    answer = send("PATCH", f"{BASE}/{endpoint.pk}", **chunked(b'{"url": "ftp://example.com/"}'))
    assert_error(answer, 400, '"url"')
    assert Endpoint.objects.get(pk=endpoint.pk).url == URL


def test_it_creates_from_a_chunked_post(send, workspace):
    raw = json.dumps({"event_type": "chat:created", "url": URL}).encode()
    status, body = send("POST", BASE, **chunked(raw))
    assert status == 201 and Endpoint.objects.get(workspace=workspace).event_type == "chat:created"


@pytest.mark.parametrize("size", [64 * 1024 + 1, 2_700_000])
def test_a_body_over_64_kb_is_a_413_without_a_traceback(send, endpoint, caplog, size):
    raw = json.dumps({"enabled": False, "pad": "p" * size}).encode()
    assert_error(send("PATCH", f"{BASE}/{endpoint.pk}", raw), 413, "64 KB")
    assert_error(send("PATCH", f"{BASE}/{endpoint.pk}", **chunked(raw)), 413, "64 KB")
    assert Endpoint.objects.get(pk=endpoint.pk).enabled is True
    assert tracebacks(caplog) == []


def test_a_content_length_over_64_kb_is_a_413_before_the_body_is_read(send, endpoint):
    meta = {"wsgi.input": Trickle(b'{"enabled": false}'), "CONTENT_LENGTH": "9" * 30}
    assert_error(send("PATCH", f"{BASE}/{endpoint.pk}", **meta), 413, "64 KB")


@pytest.mark.parametrize("depth", [101, 30_000])
def test_json_nested_too_deeply_is_a_400_without_a_traceback(send, endpoint, caplog, depth):
    assert_error(send("PATCH", f"{BASE}/{endpoint.pk}", nested(depth)), 400, "nested")
    assert tracebacks(caplog) == []


def test_json_nested_100_deep_is_read(send, endpoint):
    raw = nested(99)[:-1] + b', "enabled": false}'
    assert send("PATCH", f"{BASE}/{endpoint.pk}", raw)[0] == 200


@pytest.mark.parametrize(
    "raw, words",
    [
        (b"", "empty"),
        (b'{"enabled": false', "not valid JSON"),
        (b'{"enabled": "\xff"}', "UTF-8"),
        (b"enabled=false", "form-encoded"),
        (b"[]", "JSON object"),
    ],
)
def test_what_is_not_a_json_object_is_a_400(send, endpoint, raw, words):
    assert_error(send("PATCH", f"{BASE}/{endpoint.pk}", raw), 400, words)


def test_a_body_shorter_than_its_content_length_is_a_400(send, endpoint):
    meta = {"wsgi.input": Trickle(b'{"enabled": false}'), "CONTENT_LENGTH": "40"}
    assert_error(send("PATCH", f"{BASE}/{endpoint.pk}", **meta), 400, "ended after 18 of the 40")


def test_a_bug_of_ours_is_a_500_in_the_error_shape_logged_once(send, endpoint, caplog, monkeypatch):
    def broken(self, **fields):
        raise RuntimeError("a bug")

    monkeypatch.setattr(Endpoint, "change", broken)
    with caplog.at_level(logging.INFO):
        answer = send("PATCH", f"{BASE}/{endpoint.pk}", b'{"enabled": false}')
    assert answer == (500, {"status": "error", "message": "Internal error; please retry later."})
    logged = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(logged) == 1 and logged[0].name == api.log.name
    assert "RuntimeError: a bug" in caplog.text
