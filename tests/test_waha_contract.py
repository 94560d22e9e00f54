"""The WAHA contract: every request the transport and the connect flow make, every answer the fake
WAHA gives, and every event it and the fixtures carry, checked against WAHA's own OpenAPI spec
(2026.7.1; the part Timelines uses is in tests/fixtures/waha/openapi-subset.json, see its note).

How the spec is read: `required` holds for what Timelines sends (WAHA validates requests) and for
event envelopes; WAHA's message and ack bodies mark every field required although engines leave
some out (NOWEB has no `to` in direct chats, `source` exists only in events), so there only the
fields present are checked. A null is accepted where a value is optional or documented as null
(`participant: null`, `media: null` in WAHA's own examples): the spec leaves `nullable` out.
"""

import json
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import jsonschema
import pytest
from django.test import TestCase

from credits.models import grant
from tests.fake_waha import CORE_NO_FILES, FIXTURES, PLUS, fixture
from whatsapp import sender
from whatsapp.media import downloads
from whatsapp.media.models import MediaFile
from whatsapp.models import Message
from whatsapp.outbox import queue_message
from whatsapp.waha_sweep import sweep

SPEC = json.loads((FIXTURES / "openapi-subset.json").read_text())
RELAXED = {"WAMessage", "WAMessageAckBody"}  # see above: only present fields checked


def relaxed(schema, name=""):
    """The spec's schema as JSON Schema: nulls accepted for properties, `required` only where it
    holds, `required: true` inside a property (not JSON Schema) dropped."""
    if isinstance(schema, list):
        return [relaxed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: relaxed(value) for key, value in schema.items() if key != "nullable"}
    if not isinstance(schema.get("required", []), list) or name in RELAXED:
        out.pop("required", None)
    if isinstance(schema.get("properties"), dict):
        out["properties"] = {
            key: {"anyOf": [{"type": "null"}, relaxed(value)]}
            for key, value in schema["properties"].items()
        }
    return out


SCHEMAS = {name: relaxed(schema, name) for name, schema in SPEC["components"]["schemas"].items()}


def check(instance, schema):
    """Raise jsonschema.ValidationError unless `instance` fits `schema` (may hold $refs)."""
    root = {**relaxed(schema), "components": {"schemas": SCHEMAS}}
    jsonschema.Draft202012Validator(root).validate(instance)


def named(name):
    return {"$ref": f"#/components/schemas/{name}"}


def operation(method, path):
    """The spec's operation for a call ('GET', '/api/default/chats?...'), and its path params."""
    route = urlsplit(path).path
    templates = sorted(SPEC["paths"], key=lambda template: template.count("{"))
    for template in templates:
        pattern = "^" + re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$"
        if re.match(pattern, route) and method.lower() in SPEC["paths"][template]:
            return template, SPEC["paths"][template][method.lower()]
    raise AssertionError(f"{method} {route} is not an operation of WAHA's API")


def check_request(method, path, body):
    template, op = operation(method, path)
    query = parse_qs(urlsplit(path).query)
    for parameter in op["parameters"]:
        if parameter["in"] != "query":
            continue
        values = query.get(parameter["name"])
        assert values or not parameter.get("required"), f"{template} needs ?{parameter['name']}"
        if values and "enum" in parameter["schema"]:
            assert values[0] in parameter["schema"]["enum"], (template, parameter["name"])
    unknown = set(query) - {parameter["name"] for parameter in op["parameters"]}
    assert not unknown, f"{template} has no query parameter {unknown}"
    if "requestBody" in op:
        check(body, op["requestBody"]["content"]["application/json"]["schema"])
    else:
        assert body is None, f"{template} takes no body"


def check_answer(method, path, status, answer):
    template, op = operation(method, path)
    if status >= 400:
        # WAHA's errors are NestJS exceptions: {message, error, statusCode}, or the details.
        assert isinstance(answer, dict) and ("message" in answer or "error" in answer)
        return
    response = op["responses"].get(str(status))
    assert response is not None, f"WAHA never answers {template} with {status}"
    content = response.get("content") or {}
    if isinstance(answer, bytes):
        assert "image/png" in content
    elif "application/json" in content:
        check(answer, content["application/json"]["schema"])


def check_all_calls(fake):
    assert fake.calls, "the flow made no call"
    for method, path, body, headers in fake.calls:
        if path in fake.files:
            continue  # a file download (file_url), not WAHA's API
        if path.startswith("/api/files/"):  # a received file WAHA keeps, behind its key
            assert headers.get("X-Api-Key") == fake.api_key
            continue
        assert headers.get("X-Api-Key") == fake.api_key
        check_request(method, path, body)
    for method, path, status, answer in fake.answers:
        if path not in fake.files and not path.startswith("/api/files/"):
            check_answer(method, path, status, answer)


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


ENGINES = [{"engine": "WEBJS"}, {"engine": "NOWEB"}, {"engine": "GOWS"}]


@pytest.mark.parametrize("waha_server", ENGINES + [CORE_NO_FILES, PLUS], ids=str)
def test_the_connect_flow_speaks_wahas_api(owner_client, workspace, fake_waha):
    form = {"base_url": fake_waha.url, "api_key": fake_waha.api_key, "session": "default"}
    page = owner_client.post(f"/w/{workspace.pk}/accounts/connect/", form)["Location"]
    owner_client.get(page)
    owner_client.get(page + "qr.png")
    fake_waha.status = "WORKING"
    owner_client.get(page + "qr.png")  # WAHA's 422: not waiting for a scan any more
    owner_client.get(page)
    owner_client.post(f"/w/{workspace.pk}/accounts/connect/", form)  # again: 422, GET, PUT
    owner_client.post(f"/w/{workspace.pk}/accounts/connect/", {**form, "session": "sales"})
    check_all_calls(fake_waha)


@pytest.mark.parametrize("waha_server", ENGINES + [CORE_NO_FILES], ids=str)
def test_sending_and_reading_back_speak_wahas_api(waha_account, waha_chat, fake_waha, post_event):
    grant(waha_account.workspace, 20)
    fake_waha.files["/files/a.pdf"] = ("application/pdf", b"%PDF-1.4")
    fake_waha.reply("POST", "/api/sendText", 500, {"statusCode": 500, "message": "boom"})
    with TestCase.captureOnCommitCallbacks(execute=True):
        for text in ("first", "second"):
            queue_message(waha_chat, text=text, origin="web")
        queue_message(
            waha_chat,
            text="file",
            origin="web",
            attachment_url=fake_waha.url + "/files/a.pdf",
            attachment_name="a.pdf",
        )
    sender.drain_now()
    fake_waha.lids["1@lid"] = "14151231235@c.us"
    group = "120363000000000000@g.us"
    post_event(fake_waha.event(fake_waha.message(group, "hi", participant="1@lid")))
    fake_waha.message("14151231234@c.us", "missed")
    sweep()
    assert Message.objects.filter(text="missed").exists()
    check_all_calls(fake_waha)


@pytest.mark.parametrize("waha_server", ENGINES, ids=str)
def test_fetching_received_files_speaks_wahas_api(waha_account, fake_waha, post_event):
    """M1: a file from its media.url, and again through the message (downloadMedia=true) when
    WAHA's copy is gone or the event had none."""
    for n in range(3):
        payload = fake_waha.message_with_file("14151231234@c.us", b"%PDF", "application/pdf", "a")
        if n == 2:
            payload["media"] = None
        post_event(fake_waha.event(payload))
        if n == 0:
            downloads.drain_now()  # from its media.url
        if n == 1:
            fake_waha.expire_files()
    downloads.drain_now()
    assert MediaFile.objects.filter(state=MediaFile.STORED).count() == 3
    assert sum("/messages/" in p for p in fake_waha.paths("GET")) == 2
    check_all_calls(fake_waha)


@pytest.mark.parametrize("waha_server", ENGINES, ids=str)
def test_the_fakes_events_are_wahas_events(fake_waha):
    group = "120363000000000000@g.us"
    events = [
        fake_waha.event(fake_waha.message("14151231234@c.us", "in")),
        fake_waha.event(fake_waha.message("14151231234@c.us", "out", from_me=True)),
        fake_waha.event(fake_waha.message(group, "g", participant="1@lid")),
        fake_waha.ack("14151231234@c.us", "3EB0AA", "READ"),
        fake_waha.ack(group, "3EB0AB", "DEVICE", participant="1@lid"),
    ]
    schemas = {
        "message.any": "WAHAWebhookMessageAny",
        "message.ack": "WAHAWebhookMessageAck",
        "message.ack.group": "WAHAWebhookMessageAckGroup",
    }
    for event in events:
        check(event, named(schemas[event["event"]]))


FIXTURE_FILES = sorted(
    str(path.relative_to(FIXTURES))[:-5] for path in Path(FIXTURES).glob("**/*.json")
)


@pytest.mark.parametrize("name", [name for name in FIXTURE_FILES if "openapi" not in name])
def test_every_event_fixture_fits_wahas_schemas(name):
    event = fixture(name)
    payloads = {
        "message.any": "WAMessage",
        "message.ack": "WAMessageAckBody",
        "message.ack.group": "WAMessageAckBody",
        "session.status": "WASessionStatusBody",
    }
    assert event["event"] in payloads or event["event"] == "presence.update"
    if event["event"] in payloads:
        check(event["payload"], named(payloads[event["event"]]))
    assert event["session"] == "default" and event["engine"] in ("WEBJS", "NOWEB", "GOWS")


def test_a_request_wahas_api_does_not_have_is_caught():
    with pytest.raises(AssertionError):
        check_request("GET", "/api/default/chats/1@c.us/messages", None)  # no ?limit
    with pytest.raises(jsonschema.ValidationError):
        check_request("POST", "/api/sendText", {"chatId": "1@c.us", "session": "default"})
    with pytest.raises(AssertionError):
        check_request("POST", "/api/sessions/default/restart-everything", None)
