"""Whatever is POSTed to the inbound URL, the answer is a 200 or a 4xx in the documented shape,
never a 5xx (I6). Run it on PostgreSQL too: NUL characters and lone surrogates that SQLite stores
happily are errors there."""

import json
import re

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from credits.models import grant
from tests import strategies
from tests.inbound_helpers import post

DOCUMENTED = {200, 400, 402, 403, 404, 405, 409, 413, 422}

json_values = strategies.json_values(
    [
        "send",
        "+14151231234",
        "+15105566777",
        "120363000000000000@g.us",
        "14151231234@c.us",
        "John Doe",
        "Team",
        "https://example.com/a.pdf",
        "\x00",
        "\ud800",
        "9" * 30,
        "1",
    ]
)
PLAUSIBLE = {
    "text": ["hi", "", "two\nlines"],
    "file_url": ["https://example.com/a.pdf", "http://127.0.0.1:9/x.png"],
    "file_name": ["a.pdf", "../x.png"],
    "chat_id": ["1", "2", 3],
    "jid": ["120363000000000000@g.us", "14151231234@c.us", "4915112345678@s.whatsapp.net"],
    "phone": ["+14151231234", "+14155550123", "+1 415 555 0199"],
    "chat_name": ["John Doe", "Team"],
    "whatsapp_account_phone": ["+15105566777", "+15105550001"],
    "whatsapp account phone": ["+15105566777"],
}


def spoil(body, field, value):
    """`body` with one field (or none, or "action") set to an arbitrary JSON value."""
    return {**body, field: value} if field else body


# Plausible requests (many are accepted), each with at most one field set to anything at all.
requests_like = st.builds(
    spoil,
    st.fixed_dictionaries(
        {
            "action": st.just("send"),
            "text": st.sampled_from(PLAUSIBLE["text"]),
            "phone": st.sampled_from(PLAUSIBLE["phone"]),
        },
        optional={
            field: st.sampled_from(good)
            for field, good in PLAUSIBLE.items()
            if field not in ("text", "phone")
        },
    ),
    st.sampled_from([None, None, None, "action", *PLAUSIBLE]),
    json_values,
)

bodies = (
    requests_like.map(
        lambda body: json.dumps(body, allow_nan=True).encode("utf-8", "surrogatepass")
    )
    | json_values.map(lambda value: json.dumps(value).encode())
    | st.binary(max_size=300)
    | st.text(max_size=300).map(lambda text: text.encode("utf-8", "surrogatepass"))
)


@pytest.mark.django_db
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=bodies, key=st.none() | st.sampled_from(["k1", "k2"]))
def test_it_answers_any_body_in_the_documented_shape(
    client, inbound_webhook, chat, group_chat, body, key
):
    grant(inbound_webhook.workspace, 2)
    headers = {"Idempotency-Key": key} if key else {}
    response = post(client, inbound_webhook, body, **headers)
    assert response.status_code in DOCUMENTED, response.content
    event(f"HTTP {response.status_code}")
    answer = response.json()
    if response.status_code == 200:
        assert set(answer) == {"status", "data"} and answer["status"] == "success"
        assert re.fullmatch(r"wa_backend:[0-9A-F]{20}", answer["data"]["message_id"])
    else:
        assert answer == {"status": response.status_code, "data": {}, "message": answer["message"]}
        assert isinstance(answer["message"], str) and answer["message"]
