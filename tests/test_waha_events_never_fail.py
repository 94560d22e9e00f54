"""Whatever WAHA (or anyone holding the secret and key) posts, the events endpoint answers 200, or
400 for a body that is not JSON, never a 5xx: WAHA would retry a 5xx forever."""

import json

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests import strategies
from tests.fake_waha import fixture

FIXTURES = [
    "message_any_received",
    "message_any_from_phone",
    "message_any_api_echo",
    "message_any_group",
    "message_any_media",
    "message_ack",
    "session_status",
] + [
    f"{engine}/{name}"
    for engine in ("webjs", "noweb", "gows")
    for name in ("message_any_group_lid", "message_ack_group", "message_any_from_phone")
]
json_values = strategies.json_values(
    [
        "WORKING",
        "STOPPED",
        "READ",
        "ERROR",
        "14151231234@c.us",
        "203040506070809@lid",
        "120363000000000000@g.us",
        "status@broadcast",
        "true_14151231234@c.us_3EB0",
        "http://localhost:3000/api/files/x.pdf",
        "\x00",
        "9" * 30,
        "message.ack.group",
        "PASSKEY_CONFIRMATION_REQUIRED",
        "false_120363000000000000@g.us_3EB0_203040506070809@lid",
    ],
    text_size=30,
    width=3,
    max_leaves=10,
)
PAYLOAD_FIELDS = [
    "id", "timestamp", "from", "fromMe", "source", "to", "participant", "body", "hasMedia",
    "media", "ack", "ackName", "_data", "status", "author", "mediaUrl", "Info", "key",
]  # fmt: skip
TOP_FIELDS = ["event", "session", "me", "timestamp", "payload", "engine", "environment"]


def spoiled(name, where, field, value):
    body = fixture(name)
    target = body["payload"] if where == "payload" else body
    if where == "me":
        target = body.setdefault("me", {})
    if where == "_data":  # the engine's raw message: key (NOWEB), Info (GOWS), id (WEBJS)
        data = body["payload"].get("_data")
        target = data if isinstance(data, dict) else body["payload"]
        for inner in ("key", "Info", "id"):
            if isinstance(target.get(inner), dict):
                target = target[inner]
                break
    target[field] = value
    return body


events = st.builds(
    spoiled,
    st.sampled_from(FIXTURES),
    st.sampled_from(["payload", "payload", "top", "me", "_data"]),
    st.sampled_from(
        PAYLOAD_FIELDS
        + TOP_FIELDS
        + ["reachoutTimelock", "messageCapping", "participantAlt", "SenderAlt", "remoteJidAlt"]
    ),
    json_values,
)


@pytest.mark.django_db
@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=events)
def test_it_answers_any_event_without_a_server_error(post_event, waha_account, waha_chat, body):
    response = post_event(body)
    assert response.status_code == 200, response.content
    event(response.json()["status"])


@pytest.mark.parametrize("raw", [b"not json {", b"[" * 30000 + b"]" * 30000])
def test_it_answers_400_to_a_body_that_is_not_json(post_event, waha_account, client, raw):
    """Nested deeper than the JSON parser goes is not JSON we can read either."""
    from tests.fake_waha import sign

    response = client.post(
        f"/whatsapp/waha/{waha_account.transport_settings['webhook_secret']}/",
        data=raw,
        content_type="application/json",
        headers={"X-Webhook-Hmac": sign(raw, waha_account.transport_settings["hmac_key"])},
    )
    assert response.status_code == 400
    assert list(json.loads(response.content)) == ["error"]
