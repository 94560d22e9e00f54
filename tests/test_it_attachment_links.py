"""W3, M4: an attachment's temporary_download_url downloads that one file from the storage until
it expires; a tampered or expired link is a 404."""

import time

import pytest
from django.test import override_settings

from webhooks.endpoints import links
from whatsapp.media import storage
from whatsapp.media.models import MediaFile
from whatsapp.models import Message
from whatsapp.store import store_message

CONTENT = b"%PDF-1.4 the invoice"


@pytest.fixture
def message(chat):
    """A received message whose file is stored."""
    message = store_message(
        chat,
        direction=Message.RECEIVED,
        origin="contact",
        attachment_name="invoice.pdf",
        attachment_mime="application/pdf",
    )
    name = storage.save_bytes(storage.path_for(chat.account.workspace_id, "invoice.pdf"), CONTENT)
    MediaFile.keep(message, name, len(CONTENT)).settle(size=len(CONTENT))
    return message


def path_of(link):
    return link.removeprefix("http://testserver")


def test_it_downloads_the_file(client, message):
    response = client.get(path_of(links.make(message.pk)))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == CONTENT
    assert response["Content-Type"] == "application/pdf"
    assert 'filename="invoice.pdf"' in response["Content-Disposition"]


def test_it_is_a_404_once_expired(client, message):
    with override_settings(ATTACHMENT_LINK_TTL=60):
        link = links.make(message.pk, now=time.time() - 61)
    assert client.get(path_of(link)).status_code == 404


def test_it_lasts_24_hours_by_default(message):
    token = path_of(links.make(message.pk)).split("/")[2]
    assert links.read(token, now=time.time() + 24 * 3600 - 5) == message.pk
    assert links.read(token, now=time.time() + 24 * 3600 + 5) is None


@pytest.mark.parametrize("change", ["message", "expiry", "signature"])
def test_it_is_a_404_when_tampered_with(client, message, change):
    token = path_of(links.make(message.pk)).split("/")[2]
    value, signature = token.rsplit(":", 1)
    message_id, expires = value.split(".")
    if change == "message":
        token = f"{int(message_id) + 1}.{expires}:{signature}"
    elif change == "expiry":
        token = f"{message_id}.{int(expires) + 86400}:{signature}"
    else:
        token = f"{value}:{signature[:-2]}xx"
    assert client.get(f"/files/{token}/").status_code == 404


def test_a_message_without_a_file_is_a_404(client, chat):
    plain = store_message(chat, direction=Message.RECEIVED, origin="contact", text="hi")
    assert client.get(path_of(links.make(plain.pk))).status_code == 404


def test_it_streams_a_file_uploaded_on_the_chat_page(client, chat):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from whatsapp.attachments import store_upload, stored_name
    from whatsapp.media.sent import keep_upload

    stored = store_upload(SimpleUploadedFile("scan.pdf", CONTENT, "application/pdf"))
    message = store_message(
        chat,
        direction=Message.SENT,
        origin=Message.ORIGIN_WEB,
        attachment_url=stored,
        attachment_name="scan.pdf",
        attachment_mime="application/pdf",
        attachment_size=len(CONTENT),
    )
    keep_upload(message, stored_name(stored), len(CONTENT))
    response = client.get(path_of(links.make(message.pk)))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == CONTENT
    assert response["Content-Type"] == "application/pdf"
    assert 'filename="scan.pdf"' in response["Content-Disposition"]
