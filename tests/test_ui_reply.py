"""Replying from the chat page: text and/or one file, queued, paced and paid for like the inbound
webhook's messages, with origin "Web UI"; refusals say why."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase

from credits.models import Balance, grant
from whatsapp import sender
from whatsapp.attachments import STORED_PREFIX, fetch_attachment
from whatsapp.models import Message


@pytest.fixture
def credited(workspace):
    grant(workspace, 10, "test credits")
    return workspace


def _reply(client, chat, **data):
    with TestCase.captureOnCommitCallbacks(execute=True):  # the sender's wake
        return client.post(f"/chat/{chat.pk}/reply/", data)


def _refused(client, chat, **data):
    """A refused reply: redirected to the chat's own page (never left at /reply/), which says
    why; the page's HTML, shown once (a reload no longer shows the refusal)."""
    response = _reply(client, chat, **data)
    assert response.status_code == 302
    assert response["Location"] == f"/chat/{chat.pk}/messages/#reply"
    html = client.get(response["Location"]).content.decode()
    assert client.get(response["Location"]).content.decode().count("errorlist") == 0
    return html


def _balance(workspace):
    return Balance.objects.get(workspace=workspace).balance


def test_it_queues_a_text_reply_and_shows_it_at_once(client, member, chat, credited):
    client.force_login(member)  # members may send, not only the owner
    response = _reply(client, chat, text="On my way")
    message = Message.objects.get(chat=chat, text="On my way")
    assert response.status_code == 302
    assert response["Location"] == f"/chat/{chat.pk}/messages/#{message.permalink_anchor}"
    assert (message.direction, message.status, message.origin) == ("sent", "queued", "web")
    assert message.credits == 1 and _balance(credited) == 9
    html = client.get(f"/chat/{chat.pk}/messages/").content.decode()
    assert "On my way" in html and 'data-status="queued"' in html and "Web UI" in html


def test_it_sends_an_uploaded_file_from_the_storage(client, owner, chat, credited):
    client.force_login(owner)
    upload = SimpleUploadedFile("menu.pdf", b"%PDF-1.4 menu", content_type="application/pdf")
    _reply(client, chat, text="The menu", file=upload)
    message = Message.objects.get(chat=chat, attachment_name="menu.pdf")
    assert message.attachment_url.startswith(STORED_PREFIX)
    assert message.credits == 2 and _balance(credited) == 8
    attachment = fetch_attachment(message.attachment_url, message.attachment_name)
    assert (attachment.content, attachment.mime) == (b"%PDF-1.4 menu", "application/pdf")
    sender.drain_now()
    message.refresh_from_db()
    assert message.status == "sent" and message.attachment_size == len(b"%PDF-1.4 menu")


def test_it_takes_a_files_url_and_names_the_file_after_it(client, owner, chat, credited):
    client.force_login(owner)
    _reply(client, chat, file_url="https://files.example.com/docs/price%20list.pdf")
    message = Message.objects.get(chat=chat)
    assert message.attachment_url == "https://files.example.com/docs/price%20list.pdf"
    assert message.attachment_name == "price list.pdf" and message.credits == 1


def test_it_refuses_a_file_over_2_mb(client, owner, chat, credited):
    client.force_login(owner)
    big = SimpleUploadedFile("big.bin", b"x" * (2 * 1024 * 1024 + 1))
    html = _refused(client, chat, file=big)
    assert "larger than the 2 MB limit" in html
    assert not Message.objects.exists()


def test_it_refuses_an_empty_reply(client, owner, chat, credited):
    client.force_login(owner)
    assert "Type a message or attach a file." in _refused(client, chat, text="  ")


def test_it_says_when_credits_run_out_and_keeps_the_text(client, owner, chat, workspace):
    client.force_login(owner)
    html = _refused(client, chat, text="Hello?")
    assert "this message needs 1 and the workspace has 0." in html and "Hello?" in html
    assert not Message.objects.exists()


def test_it_says_when_the_account_is_not_connected(client, owner, chat, credited):
    chat.account.mark_disconnected()
    client.force_login(owner)
    assert "is not connected" in _refused(client, chat, text="Hello?")
    assert not Message.objects.exists() and _balance(credited) == 10


def test_it_reports_statuses_as_json_for_the_page_to_update(client, owner, chat, credited):
    client.force_login(owner)
    _reply(client, chat, text="ping")
    message = Message.objects.get(chat=chat)
    url = f"/chat/{chat.pk}/statuses/?ids={message.message_id},wa_backend:NOPE"
    assert json.loads(client.get(url).content)["messages"][0]["status"] == "queued"
    sender.drain_now()
    data = json.loads(client.get(url).content)
    assert data == {
        "messages": [
            {
                "message_id": message.message_id,
                "status": "sent",
                "status_display": "Sent",
                "error": "",
            }
        ]
    }


def test_it_hides_the_chat_from_outsiders(client, outsider, chat, credited):
    client.force_login(outsider)
    assert _reply(client, chat, text="hi").status_code == 404
    assert client.get(f"/chat/{chat.pk}/statuses/?ids=x").status_code == 404
    assert not Message.objects.exists()


def test_it_refuses_a_file_url_that_does_not_parse(client, owner, chat, credited):
    client.force_login(owner)
    html = _refused(client, chat, file_url="http://files.example.com:99999/a.pdf")
    assert "This URL cannot be used" in html and "files.example.com:99999" in html
    assert not Message.objects.exists()
