"""Posting to the inbound webhook in tests, the way an integrator would."""

import json
from pathlib import Path

FIXTURES = Path(__file__).parent / "inbound_fixtures"


def fixture_body(name):
    """A captured request body, byte for byte (the seed's examples among them)."""
    return (FIXTURES / name).read_bytes()


def post(client, webhook, body, path=None, **headers):
    """POST `body` (a dict, or raw str/bytes sent as is) to the webhook's URL."""
    raw = body if isinstance(body, bytes | str) else json.dumps(body)
    return client.post(path or webhook.path, raw, content_type="application/json", headers=headers)


def assert_error(response, status, *words):
    """The documented error shape, with the expected status and words in the message."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"status", "data", "message"}
    assert body["status"] == status and body["data"] == {}
    for word in words:
        assert word in body["message"], body["message"]
    return body["message"]
