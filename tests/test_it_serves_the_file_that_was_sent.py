"""M3: a file sent through the inbound webhook (file_url) or uploaded on the chat page is kept as
it went out: its link serves those bytes after the integrator's URL is gone (or serves something
else), and the v2 payload says its size and type."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase

from tests.file_server import FileServer
from tests.inbound_helpers import post
from webhooks.endpoints import event_types as types
from webhooks.outbound import dispatch
from whatsapp import sender
from whatsapp.media.models import MediaFile
from whatsapp.models import Message

PDF = b"%PDF-1.4 the quote, version 1"


@pytest.fixture
def files():
    server = FileServer()
    yield server
    server.close()


def link_path(body):
    [item] = body["message"]["attachments"]
    return item, item["temporary_download_url"].removeprefix("http://testserver")


def test_the_link_serves_what_went_out(
    client, account, inbound_webhook, files, subscribe, receiver
):
    subscribe(types.MESSAGE_SENT_NEW)
    files.files["/quote.pdf"] = ("application/pdf", PDF)
    with TestCase.captureOnCommitCallbacks(execute=True):
        answer = post(
            client,
            inbound_webhook,
            {
                "action": "send",
                "phone": "+14151231234",
                "file_url": files.url + "/quote.pdf",
                "file_name": "quote.pdf",
            },
        )
    assert answer.status_code == 200, answer.content
    sender.drain_now()
    files.files["/quote.pdf"] = ("application/pdf", b"%PDF-1.4 the quote, version 2")
    dispatch.deliver_due()
    item, path = link_path(json.loads(receiver.requests[0].body))
    assert (item["size"], item["mimetype"], item["filename"]) == (
        len(PDF),
        "application/pdf",
        "quote.pdf",
    )
    del files.files["/quote.pdf"]
    served = client.get(path)
    assert served.status_code == 200 and b"".join(served.streaming_content) == PDF
    assert len(files.requests) == 1  # downloaded once, by the sender


def test_an_uploaded_file_is_the_messages_file_at_once(client, owner, workspace, chat):
    from credits.models import grant

    grant(workspace, 5, "test")
    client.force_login(owner)
    upload = SimpleUploadedFile("menu.pdf", PDF, "application/pdf")
    client.post(f"/chat/{chat.pk}/reply/", {"text": "", "file": upload})
    message = Message.objects.get(direction=Message.SENT)
    assert message.media.state == MediaFile.STORED and message.media.size == len(PDF)
    sender.drain_now()
    response = client.get(f"/chat/{chat.pk}/files/{message.message_id}/")
    assert b"".join(response.streaming_content) == PDF
