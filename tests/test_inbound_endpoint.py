"""The inbound endpoint: accepting a message (I5, I6) and choosing its chat and account."""

import re

import pytest

from credits.models import Balance
from tests.inbound_helpers import assert_error, fixture_body, post
from webhooks.inbound.models import Attempt
from whatsapp.models import Account, Chat, Message

pytestmark = pytest.mark.django_db


def accepted(response):
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"status", "data"} and body["status"] == "success"
    assert re.fullmatch(r"wa_backend:[0-9A-F]{20}", body["data"]["message_id"])
    return Message.objects.get(message_id=body["data"]["message_id"])


def test_it_accepts_the_seeds_example_1_verbatim(client, inbound_webhook, account):
    message = accepted(post(client, inbound_webhook, fixture_body("example_1.json")))
    assert message.status == Message.QUEUED
    assert message.origin == Message.ORIGIN_INBOUND_WEBHOOK
    assert message.text == "lorem ipsum"
    assert message.chat.phone == "+14151231234" and message.chat.account == account
    assert message.created_chat is True
    assert Balance.of(account.workspace) == 99


def test_it_answers_the_seeds_example_2_with_invalid_json_and_where(client, inbound_webhook):
    response = post(client, inbound_webhook, fixture_body("example_2.json"))
    message = assert_error(response, 400, "not valid JSON", "line 5, column 1")
    assert "delimiter" in message
    assert not Message.objects.exists()


def test_it_accepts_the_underscore_spelling_of_the_account(client, inbound_webhook, account):
    other = Account.objects.create(workspace=account.workspace, phone="+15105550001")
    other.mark_connected()  # now the default: the most recently connected
    body = {"action": "send", "phone": "+14151231234", "text": "hi"}
    assert accepted(post(client, inbound_webhook, body)).chat.account == other
    body["whatsapp_account_phone"] = "+1 510 556 6777"
    assert accepted(post(client, inbound_webhook, body)).chat.account == account
    del body["whatsapp_account_phone"]
    body["whatsapp account phone"] = "+15105566777"
    assert accepted(post(client, inbound_webhook, body)).chat.account == account


def test_it_defaults_to_the_most_recently_connected_account_that_is_connected_now(
    client, inbound_webhook, account
):
    later = Account.objects.create(workspace=account.workspace, phone="+15105550001")
    later.mark_connected()
    later.mark_disconnected()
    body = {"action": "send", "phone": "+14151231234", "text": "hi"}
    assert accepted(post(client, inbound_webhook, body)).chat.account == account


def test_it_sends_to_a_chat_by_chat_id_ignoring_the_account(client, inbound_webhook, chat):
    other = Account.objects.create(workspace=chat.account.workspace, phone="+15105550001")
    other.mark_connected()
    body = {
        "action": "send",
        "chat_id": chat.chat_id,
        "text": "hi",
        "whatsapp_account_phone": "+15105550001",
    }
    assert accepted(post(client, inbound_webhook, body)).chat == chat
    body["chat_id"] = int(chat.chat_id)
    assert accepted(post(client, inbound_webhook, body)).chat == chat


def test_it_sends_to_a_group_by_chat_id_and_by_jid(client, inbound_webhook, group_chat):
    for recipient in ({"chat_id": group_chat.chat_id}, {"jid": "120363000000000000@g.us"}):
        message = accepted(
            post(client, inbound_webhook, {"action": "send", "text": "hi", **recipient})
        )
        assert message.chat == group_chat and message.recipient_phone == ""


def test_it_creates_a_chat_for_a_new_contact_jid(client, inbound_webhook, account):
    body = {"action": "send", "jid": "4915112345678@c.us", "text": "hi"}
    message = accepted(post(client, inbound_webhook, body))
    assert message.chat.jid == "4915112345678@s.whatsapp.net"
    assert message.chat.phone == "+4915112345678" and message.created_chat
    again = accepted(post(client, inbound_webhook, {**body, "jid": "4915112345678@s.whatsapp.net"}))
    assert again.chat == message.chat and not again.created_chat


def test_it_reuses_the_existing_chat_of_a_phone(client, inbound_webhook, chat):
    body = {"action": "send", "phone": "+1 (415) 123-1234", "text": "hi"}
    message = accepted(post(client, inbound_webhook, body))
    assert message.chat == chat and not message.created_chat
    assert message.recipient_name == "John Doe"


def test_it_sends_to_a_chat_by_its_exact_name(client, inbound_webhook, chat, group_chat):
    body = {"action": "send", "chat_name": "Team", "text": "hi"}
    assert accepted(post(client, inbound_webhook, body)).chat == group_chat


def test_it_takes_the_recipient_in_priority_order_and_logs_which(
    client, inbound_webhook, chat, group_chat
):
    fields = {
        "chat_id": chat.chat_id,
        "jid": group_chat.jid,
        "phone": "+14155550123",
        "chat_name": "Team",
    }
    expected = {"chat_id": chat, "jid": group_chat, "phone": None, "chat_name": group_chat}
    for kind in list(fields):
        message = accepted(post(client, inbound_webhook, {"action": "send", "text": "x", **fields}))
        assert Attempt.objects.first().recipient_kind == kind
        if expected[kind]:
            assert message.chat == expected[kind]
        else:
            assert message.chat.phone == "+14155550123"
        del fields[kind]


def test_it_treats_empty_fields_as_absent(client, inbound_webhook, chat):
    body = {"action": "send", "text": "hi", "chat_id": "", "jid": None, "phone": "+14151231234"}
    body.update({"whatsapp_account_phone": "", "file_url": "", "file_name": ""})
    assert accepted(post(client, inbound_webhook, body)).chat == chat


def test_it_queues_an_attachment_without_downloading_it(client, inbound_webhook, chat):
    body = {
        "action": "send",
        "chat_id": chat.chat_id,
        "file_url": "https://example.com/files/report.pdf",
        "file_name": "../report.pdf",
    }
    message = accepted(post(client, inbound_webhook, body))
    assert message.attachment_url == body["file_url"]
    assert message.attachment_name == "report.pdf"
    assert message.credits == 1
    body["text"] = "Your report"
    assert accepted(post(client, inbound_webhook, body)).credits == 2
    assert Balance.of(chat.account.workspace) == 97


def test_it_accepts_the_url_without_its_trailing_slash(client, inbound_webhook, chat):
    body = {"action": "send", "chat_id": chat.chat_id, "text": "hi"}
    accepted(post(client, inbound_webhook, body, path=inbound_webhook.path.rstrip("/")))


def test_it_answers_json_whatever_the_accept_header(client, inbound_webhook, chat):
    body = {"action": "send", "chat_id": chat.chat_id, "text": "hi"}
    response = post(client, inbound_webhook, body, Accept="text/html")
    assert response["Content-Type"] == "application/json"
    accepted(response)


def test_it_creates_no_chat_when_the_request_is_refused(client, inbound_webhook, account):
    Balance.objects.filter(workspace=account.workspace).update(balance=0)
    body = {"action": "send", "phone": "+14155550123", "text": "hi"}
    assert_error(post(client, inbound_webhook, body), 402)
    assert not Chat.objects.filter(phone="+14155550123").exists()
