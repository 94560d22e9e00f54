"""GET <inbound URL>messages/<message_id>/ (I12)."""

from datetime import UTC, datetime

import pytest
import time_machine

from tests.inbound_helpers import assert_error, post
from timelines.models import Workspace
from webhooks.inbound.models import InboundWebhook
from whatsapp.models import Account, Chat, Message
from whatsapp.outbox import queue_message

pytestmark = pytest.mark.django_db


def status_path(webhook, message_id):
    return f"{webhook.path}messages/{message_id}/"


@time_machine.travel(datetime(2026, 3, 1, 12, 0, 5, tzinfo=UTC), tick=False)
def test_it_reports_a_queued_then_sent_message(client, inbound_webhook, chat):
    body = {"action": "send", "chat_id": chat.chat_id, "text": "hi"}
    message_id = post(client, inbound_webhook, body).json()["data"]["message_id"]
    response = client.get(status_path(inbound_webhook, message_id))
    assert response.status_code == 200
    assert response.json() == {
        "status": "success",
        "data": {
            "message_id": message_id,
            "status": "queued",
            "created_at": "2026-03-01T12:00:05Z",
            "sent_at": None,
            "delivered_at": None,
            "read_at": None,
            "failed_at": None,
            "error": None,
        },
    }
    Message.objects.filter(message_id=message_id).update(
        status="failed", failed_at=datetime(2026, 3, 1, 12, 0, 9, tzinfo=UTC), error="Not on WA"
    )
    data = client.get(status_path(inbound_webhook, message_id)).json()["data"]
    assert (data["status"], data["failed_at"], data["error"]) == (
        "failed",
        "2026-03-01T12:00:09Z",
        "Not on WA",
    )


def test_it_answers_404_for_another_workspaces_message(client, inbound_webhook, owner):
    other = Workspace.create_for(owner, "Other")
    account = Account.objects.create(workspace=other, phone="+15105550001")
    theirs, _ = Chat.get_or_create_direct(account, "+14151231234")
    from credits.models import grant

    grant(other, 5)
    message = queue_message(theirs, text="hi", origin=Message.ORIGIN_WEB)
    response = client.get(status_path(inbound_webhook, message.message_id))
    assert_error(response, 404, "Message not found")
    mine = InboundWebhook.for_workspace(other)
    assert client.get(status_path(mine, message.message_id)).status_code == 200


def test_it_answers_404_for_an_unknown_message_or_url(client, inbound_webhook):
    assert_error(client.get(status_path(inbound_webhook, "wa_backend:0")), 404, "Message not")
    assert_error(client.get("/webhooks/inbound/nope/messages/x/"), 404, "Webhook not found")


def test_it_answers_403_when_disabled_and_405_to_a_post(client, inbound_webhook):
    path = status_path(inbound_webhook, "wa_backend:0")
    assert_error(client.post(path), 405)
    inbound_webhook.set_enabled(False)
    assert_error(client.get(path), 403, "Webhook is disabled")
