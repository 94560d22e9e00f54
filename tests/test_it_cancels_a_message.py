"""SPEC G5: DELETE <inbound URL>messages/<message_id>/ cancels a scheduled or queued message and
refunds it; once sending has begun, 409 in the I6 error shape. A cancel racing the sender ends
cancelled and refunded, or sent — never both."""

import pytest
from django.db import transaction
from django.test import TestCase

from credits.models import Balance, LedgerEntry
from tests.inbound_helpers import assert_error, post
from whatsapp import sender
from whatsapp.models import Message
from whatsapp.sender.clock import FakeClock

pytestmark = pytest.mark.django_db


def accept(client, webhook, chat, **fields):
    body = {"action": "send", "chat_id": chat.chat_id, "text": "hi", **fields}
    with TestCase.captureOnCommitCallbacks(execute=True):  # the wake, as after a commit
        return post(client, webhook, body).json()["data"]["message_id"]


def cancel(client, webhook, message_id):
    return client.delete(f"{webhook.path}messages/{message_id}/")


@pytest.mark.parametrize("fields", [{}, {"send_at": "2030-01-01T00:00:00Z"}])
def test_it_cancels_a_queued_or_scheduled_message_and_refunds_it(
    client, inbound_webhook, chat, fields, time_machine
):
    time_machine.move_to("2029-12-15T00:00:00Z", tick=False)
    message_id = accept(client, inbound_webhook, chat, file_url="https://example.com/a.pdf",
                        file_name="a.pdf", **fields)  # fmt: skip
    assert Balance.of(inbound_webhook.workspace) == 98
    response = cancel(client, inbound_webhook, message_id)
    assert response.status_code == 200
    assert response.json() == {
        "status": "success",
        "data": {"message_id": message_id, "status": "cancelled", "refunded_credits": 2},
    }
    assert Balance.of(inbound_webhook.workspace) == 100
    assert Message.objects.get(message_id=message_id).status == "cancelled"
    assert sender.drain_now().sent == 0
    assert_error(cancel(client, inbound_webhook, message_id), 409, "it is cancelled")
    assert Balance.of(inbound_webhook.workspace) == 100  # refunded once


def test_it_refuses_once_sending_has_begun(client, inbound_webhook, chat):
    message_id = accept(client, inbound_webhook, chat)
    dispatcher = sender.Dispatcher(clock=FakeClock(), threads=0)
    with transaction.atomic():
        [job] = dispatcher.claim(10)  # the message is now `sending`
    assert_error(cancel(client, inbound_webhook, message_id), 409, "sending had begun")
    dispatcher.launch(job)
    dispatcher.settle()
    assert Message.objects.get(message_id=message_id).status == "sent"
    assert_error(cancel(client, inbound_webhook, message_id), 409, "it is sent")
    assert not LedgerEntry.objects.filter(message_ref=message_id, kind="refund").exists()


def test_a_cancel_before_the_claim_wins_and_nothing_is_sent(client, inbound_webhook, chat):
    message_id = accept(client, inbound_webhook, chat)
    dispatcher = sender.Dispatcher(clock=FakeClock(), threads=0)
    assert cancel(client, inbound_webhook, message_id).status_code == 200
    assert dispatcher.claim(10) == []
    assert sender.drain_now().sent == 0


def test_it_answers_404_for_unknown_or_foreign_messages(client, inbound_webhook):
    assert_error(cancel(client, inbound_webhook, "wa_backend:NOPE"), 404, "Message not found")


def test_a_disabled_webhook_cancels_nothing(client, inbound_webhook, chat):
    message_id = accept(client, inbound_webhook, chat)
    inbound_webhook.enabled = False
    inbound_webhook.save()
    assert_error(cancel(client, inbound_webhook, message_id), 403, "disabled")
    assert Message.objects.get(message_id=message_id).status == "queued"


def test_the_openapi_schema_describes_scheduling_and_cancelling(client):
    paths = client.get("/api/schema/", {"format": "json"}).json()["paths"]
    send = paths["/webhooks/inbound/{token}/"]["post"]
    fields = send["requestBody"]["content"]["application/json"]["schema"]["properties"]
    assert {"send_at", "expires_at"} <= set(fields)
    message = paths["/webhooks/inbound/{token}/messages/{message_id}/"]
    assert set(message["delete"]["responses"]) == {"200", "403", "404", "409"}
    lookup = message["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    data = lookup["properties"]["data"]["properties"]
    assert "scheduled" in data["status"]["enum"] and "cancelled" in data["status"]["enum"]
    assert data["waiting"]["properties"]["reason"]["enum"] == [
        "quiet_hours",
        "new_contact_limit",
        "account_paused",
    ]
