"""The attempt log (I3, I4): every request to a valid URL, the 100 latest, downloadable by the
owner only."""

import json

import pytest

from tests.inbound_helpers import post
from webhooks.inbound.models import Attempt

pytestmark = pytest.mark.django_db


def log_url(workspace):
    return f"/w/{workspace.pk}/integrations/inbound/log/"


def test_it_records_each_request_as_received_and_answered(client, inbound_webhook, chat):
    ok = post(
        client,
        inbound_webhook,
        {"action": "send", "phone": "+14151231234", "text": "hi"},
        HTTP_USER_AGENT="Zapier",
        **{"Idempotency-Key": "k"},
    )
    post(client, inbound_webhook, b"\x00not json\xff")
    failed, accepted = Attempt.objects.order_by("-id")
    assert accepted.status == 200 and accepted.message_id == ok.json()["data"]["message_id"]
    assert accepted.recipient_kind == "phone" and accepted.ip == "127.0.0.1"
    assert accepted.response == ok.json() and accepted.headers["Idempotency-Key"] == "k"
    assert '"text": "hi"' in accepted.body
    assert failed.status == 400 and failed.body == "\ufffdnot json\ufffd"
    assert "not valid UTF-8" in failed.error


def test_it_keeps_the_100_latest_attempts(
    client, inbound_webhook, chat, django_capture_on_commit_callbacks
):
    for n in range(125):
        body = (
            {"n": n, "action": "send", "chat_id": chat.chat_id, "text": "hi"} if n % 2 else {"n": n}
        )
        with django_capture_on_commit_callbacks(execute=True):  # pruning runs after commit
            post(client, inbound_webhook, body)
    assert Attempt.objects.count() <= 100 + 9  # pruned every 10 attempts
    kept = list(reversed(Attempt.latest(inbound_webhook.workspace)))
    assert len(kept) == 100
    assert json.loads(kept[0].body)["n"] == 25 and json.loads(kept[-1].body) == {"n": 124}
    assert {attempt.status for attempt in kept} == {200, 400}


def test_it_lets_the_owner_download_the_log(client, inbound_webhook, owner, account):
    post(client, inbound_webhook, b'{"action": "send", oops}')
    client.force_login(owner)
    response = client.get(log_url(inbound_webhook.workspace))
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    document = json.loads(response.content)
    assert (document["workspace"], document["log"]) == ("Acme", "inbound webhook")
    (entry,) = document["attempts"]
    assert entry["request"]["body"] == '{"action": "send", oops}'
    assert entry["response"]["status"] == 400 and entry["response"]["body"]["status"] == 400
    assert {"ip", "user_agent", "headers"} <= set(entry["request"])
    assert {"at", "message_id", "recipient_kind", "idempotent_replay"} <= set(entry)


def test_it_hides_the_log_from_everyone_but_the_owner(client, inbound_webhook, member, outsider):
    workspace = inbound_webhook.workspace
    # Anonymous visitors are sent to sign in, like on every page of the owner's UI.
    assert client.get(log_url(workspace)).url.startswith("/accounts/login/?next=")
    for user in (member, outsider):
        client.force_login(user)
        assert client.get(log_url(workspace)).status_code == 404
