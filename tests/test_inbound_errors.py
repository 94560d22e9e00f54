"""Every row of the inbound endpoint's error table (README, OpenAPI): status, shape, wording."""

import pytest

from credits.models import Balance, LedgerEntry
from tests.inbound_helpers import assert_error, post
from webhooks.inbound.models import Attempt
from whatsapp.models import Account, Chat, Message

pytestmark = pytest.mark.django_db

SEND = {"action": "send", "phone": "+14151231234", "text": "hi"}


def nothing_queued(workspace):
    assert not Message.objects.exists()
    assert not LedgerEntry.objects.filter(workspace=workspace, kind="reserve").exists()


@pytest.mark.parametrize(
    "body, words",
    [
        (b"", ["body is empty"]),
        (b"   \n", ["body is empty"]),
        (b'{"action": "send",}', ["not valid JSON", "line 1, column 19"]),
        (b"\xff\xfe{}", ["not valid UTF-8"]),
        (b"action=send&phone=%2B14151231234&text=Hi", ["form-encoded", "application/json"]),
        (b"[1, 2]", ["must be a JSON object"]),
        (b'"send"', ["must be a JSON object"]),
        (b"[" * 5000 + b"]" * 5000, ["nested more than 100 levels"]),
        ({"text": "hi", "phone": "+14151231234"}, ['"action" is required']),
        ({**SEND, "action": "delete"}, ['action "delete" is not supported']),
        ({**SEND, "action": ["send"]}, ["is not supported"]),
        ({**SEND, "text": ""}, ['"text" is required']),
        ({**SEND, "text": "  \n "}, ['"text" is required']),
        ({**SEND, "text": 42}, ['"text" must be a string']),
        ({**SEND, "text": "a\u0000b"}, ['"text" contains a NUL']),
        ({**SEND, "file_url": "ftp://example.com/a.pdf", "file_name": "a.pdf"}, ['"file_url"']),
        ({**SEND, "file_url": "https://example.com/a.pdf"}, ['"file_name" is required']),
        ({**SEND, "file_url": "http://[::1", "file_name": "a.pdf"}, ['"file_url"', "valid URL"]),
        ({**SEND, "file_url": "http://h.com:99999/a", "file_name": "a"}, ['"file_url"', "port"]),
        ({**SEND, "file_url": "http://0x7f.1/a", "file_name": "a"}, ['"file_url"']),
        ({"action": "send", "text": "hi"}, ["recipient is required", "chat_id"]),
        ({**SEND, "phone": "14151231234"}, ['"phone"', "international"]),
        ({**SEND, "phone": "+1415"}, ['"phone"', "valid phone number"]),
        ({**SEND, "phone": 14151231234}, ['"phone" must be a string']),
        ({**SEND, "phone": "", "jid": "john@example.com"}, ['"jid" is not valid']),
        ({**SEND, "phone": "", "jid": "1203630001@g.us"}, ['"jid"', "no group chat"]),
        ({**SEND, "phone": "", "chat_id": "abc"}, ['"chat_id" must be']),
        ({**SEND, "phone": "", "chat_id": True}, ['"chat_id" must be']),
        ({**SEND, "phone": "", "chat_id": "9" * 40}, ['"chat_id" must be']),
        ({**SEND, "phone": "", "chat_id": "77234"}, ['"chat_id"', "no chat 77234"]),
        ({**SEND, "phone": "", "chat_name": "Nobody"}, ['"chat_name"', "no chat named"]),
        ({**SEND, "whatsapp_account_phone": "+15105550001"}, ["not a connected WhatsApp"]),
        ({**SEND, "whatsapp account phone": "0123"}, ['"whatsapp account phone"']),
    ],
)
def test_it_answers_400_naming_what_is_wrong(client, inbound_webhook, account, body, words):
    assert_error(post(client, inbound_webhook, body), 400, *words)
    nothing_queued(account.workspace)


def test_it_answers_400_for_an_account_of_this_workspace_that_is_not_connected(
    client, inbound_webhook, account
):
    account.mark_disconnected()
    Account.objects.create(workspace=account.workspace, phone="+15105550001").mark_connected()
    body = {**SEND, "whatsapp_account_phone": account.phone}
    assert_error(post(client, inbound_webhook, body), 400, account.phone, "not a connected")


def test_it_answers_402_when_credits_are_short_and_queues_nothing(client, inbound_webhook, chat):
    workspace = chat.account.workspace
    Balance.objects.filter(workspace=workspace).update(balance=1)
    body = {**SEND, "file_url": "https://example.com/a.pdf", "file_name": "a.pdf"}  # costs 2
    assert_error(post(client, inbound_webhook, body), 402, "Message sending quota exceeded")
    nothing_queued(workspace)
    assert Balance.of(workspace) == 1
    assert Attempt.objects.get().status == 402


def test_it_answers_403_when_disabled_and_spends_nothing(client, inbound_webhook, chat):
    inbound_webhook.set_enabled(False)
    response = post(client, inbound_webhook, SEND)
    assert response.json() == {"status": 403, "data": {}, "message": "Webhook is disabled"}
    assert response.status_code == 403
    nothing_queued(chat.account.workspace)
    assert Balance.of(chat.account.workspace) == 100
    inbound_webhook.set_enabled(True)
    assert post(client, inbound_webhook, SEND).status_code == 200


def test_it_answers_404_for_an_unknown_url_without_logging_it(client, inbound_webhook, account):
    response = client.post("/webhooks/inbound/not-a-token/", SEND, content_type="application/json")
    assert response.json() == {"status": 404, "data": {}, "message": "Webhook not found"}
    assert response.status_code == 404
    assert not Attempt.objects.exists()


def test_it_answers_404_for_the_old_url_once_regenerated(client, inbound_webhook, account):
    old_path = inbound_webhook.path
    inbound_webhook.regenerate()
    assert inbound_webhook.path != old_path
    assert_error(post(client, inbound_webhook, SEND, path=old_path), 404, "Webhook not found")
    assert post(client, inbound_webhook, SEND).status_code == 200


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete", "options"])
def test_it_answers_405_with_a_json_body_to_other_methods(client, inbound_webhook, method):
    response = getattr(client, method)(inbound_webhook.path)
    assert_error(response, 405, method.upper())
    assert response["Allow"] == "POST"
    assert Attempt.objects.get().status == 405


def test_it_answers_409_when_no_account_is_connected(client, inbound_webhook, account):
    account.mark_disconnected()
    assert_error(post(client, inbound_webhook, SEND), 409, "No WhatsApp account is connected")
    nothing_queued(account.workspace)


def test_it_answers_409_when_the_chats_account_is_disconnected(client, inbound_webhook, chat):
    chat.account.mark_disconnected()
    body = {"action": "send", "chat_id": chat.chat_id, "text": "hi"}
    assert_error(post(client, inbound_webhook, body), 409, chat.account.phone, "not connected")


def test_it_answers_409_for_an_ambiguous_chat_name(client, inbound_webhook, chat):
    Chat.get_or_create_direct(chat.account, "+14155550123", "John Doe")
    body = {"action": "send", "chat_name": "John Doe", "text": "hi"}
    assert_error(post(client, inbound_webhook, body), 409, "more than one chat", "chat_id")
    nothing_queued(chat.account.workspace)


def test_it_answers_413_above_64_kb_and_logs_the_first_64_kb(client, inbound_webhook, chat):
    padding = "x" * (64 * 1024)
    response = post(client, inbound_webhook, {**SEND, "text": padding})
    assert_error(response, 413, "64 KB")
    attempt = Attempt.objects.get()
    assert len(attempt.body.encode()) == 64 * 1024 and attempt.body_size > 64 * 1024
    nothing_queued(chat.account.workspace)


def test_it_accepts_a_body_of_exactly_64_kb(client, inbound_webhook, chat):
    body = '{"action": "send", "phone": "+14151231234", "text": "%s"}'
    raw = body % ("y" * (64 * 1024 - len(body) + 2))
    assert len(raw) == 64 * 1024
    assert post(client, inbound_webhook, raw).status_code == 200


def test_it_answers_422_for_a_reused_idempotency_key_with_another_body(
    client, inbound_webhook, chat
):
    assert post(client, inbound_webhook, SEND, **{"Idempotency-Key": "k1"}).status_code == 200
    other = {**SEND, "text": "something else"}
    response = post(client, inbound_webhook, other, **{"Idempotency-Key": "k1"})
    assert_error(response, 422, "Idempotency-Key", "different request body")
    assert Message.objects.count() == 1
