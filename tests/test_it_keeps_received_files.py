"""M1: a received (or phone-typed) message's file is downloaded by a worker after the event was
answered, into the storage; when the event has no URL or WAHA already deleted its copy, WAHA is
asked for the message again with downloadMedia=true; a file that cannot be had is marked
unavailable with the reason, and the message is never lost for it."""

import json
from datetime import timedelta
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from webhooks.endpoints import event_types as types
from webhooks.outbound import dispatch
from whatsapp.media import downloads
from whatsapp.media.models import MediaFile
from whatsapp.models import Message

JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40
CONTACT = "14151231234@c.us"


def only(direction=Message.RECEIVED):
    return Message.objects.select_related("media").get(direction=direction)


def file_calls(fake_waha):
    return [path for path in fake_waha.paths("GET") if path.startswith("/api/files/")]


def test_the_event_is_answered_before_the_download(waha_account, fake_waha, post_event):
    payload = fake_waha.message_with_file(CONTACT, JPEG, "image/jpeg", "receipt.jpg")
    assert post_event(fake_waha.event(payload)).status_code == 200
    assert file_calls(fake_waha) == []
    assert only().media.state == MediaFile.PENDING
    assert downloads.drain_now() == 1
    message = only()
    assert message.media.state == MediaFile.STORED
    assert default_storage.open(message.media.name).read() == JPEG
    assert (message.attachment_size, message.attachment_mime) == (len(JPEG), "image/jpeg")
    assert file_calls(fake_waha) and all(
        headers.get("X-Api-Key") == fake_waha.api_key
        for _, path, _, headers in fake_waha.calls
        if path.startswith("/api/files/")
    )


def test_the_link_serves_it_after_waha_deleted_its_copy(
    client, waha_account, fake_waha, post_event, subscribe, receiver
):
    subscribe(types.MESSAGE_RECEIVED_NEW)
    post_event(fake_waha.event(fake_waha.message_with_file(CONTACT, JPEG, "image/jpeg", "a.jpg")))
    dispatch.deliver_due()
    assert receiver.requests == []  # announced with its file, once the file is stored
    downloads.drain_now()
    fake_waha.expire_files()
    dispatch.deliver_due()
    [item] = json.loads(receiver.requests[0].body)["message"]["attachments"]
    assert (item["size"], item["mimetype"], item["filename"]) == (len(JPEG), "image/jpeg", "a.jpg")
    response = client.get(item["temporary_download_url"].removeprefix("http://testserver"))
    assert response.status_code == 200 and b"".join(response.streaming_content) == JPEG


@pytest.mark.parametrize("how", ["expired", "no url"])
def test_it_asks_waha_again(waha_account, fake_waha, post_event, how):
    payload = fake_waha.message_with_file(CONTACT, JPEG, "image/jpeg", "a.jpg")
    if how == "no url":
        payload["media"] = None  # media downloads switched off in WAHA
    post_event(fake_waha.event(payload))
    fake_waha.expire_files()
    downloads.drain_now()
    assert only().media.state == MediaFile.STORED
    [asked] = [p for p in fake_waha.paths("GET") if "/messages/" in p]
    assert unquote(urlsplit(asked).path) == f"/api/default/chats/{CONTACT}/messages/{payload['id']}"
    assert parse_qs(urlsplit(asked).query) == {"downloadMedia": ["true"]}


def test_a_file_typed_on_the_phone_is_kept_too(waha_account, fake_waha, post_event):
    payload = fake_waha.message_with_file(CONTACT, JPEG, "image/jpeg", "a.jpg", from_me=True)
    post_event(fake_waha.event(payload))
    downloads.drain_now()
    assert only(Message.SENT).media.state == MediaFile.STORED


def test_a_file_no_one_has_is_unavailable_with_the_reason(
    client, waha_account, fake_waha, post_event
):
    payload = fake_waha.message_with_file(CONTACT, JPEG, "image/jpeg", "a.jpg", body="look")
    post_event(fake_waha.event(payload))
    fake_waha.expire_files()
    fake_waha.history.clear()  # WAHA forgot the message too
    downloads.drain_now()
    message = only()
    assert message.text == "look"
    assert message.media.state == MediaFile.UNAVAILABLE
    assert "WAHA no longer has this message" in message.media.reason


def test_it_tries_again_later_then_gives_up(waha_account, fake_waha, post_event):
    payload = fake_waha.message_with_file(CONTACT, JPEG, "image/jpeg", "a.jpg")
    post_event(fake_waha.event(payload))
    fake_waha.expire_files()
    del fake_waha.whatsapp_media[payload["id"]]  # WhatsApp's copy is not to be had (for now)
    now = timezone.now()
    for attempt in range(5):
        assert downloads.drain_now() == 1
        media = only().media
        if attempt < 4:
            assert media.state == MediaFile.PENDING and media.next_attempt_at > timezone.now()
            MediaFile.objects.filter(pk=media.pk).update(next_attempt_at=now)
    assert media.state == MediaFile.UNAVAILABLE
    assert "could not download it again" in media.reason
    assert downloads.drain_now() == 0
    assert now - media.created_at < timedelta(minutes=1)


def test_the_sweep_tries_again(waha_account, fake_waha, post_event):
    from whatsapp.waha_sweep import sweep

    payload = fake_waha.message_with_file(CONTACT, JPEG, "image/jpeg", "a.jpg")
    post_event(fake_waha.event(payload))
    fake_waha.expire_files()
    path = f"/api/default/chats/{CONTACT}/messages/{payload['id']}?downloadMedia=true"
    fake_waha.reply("GET", path.replace("@", "%40"), 502, {"message": "Bad gateway"})
    downloads.drain_now()
    media = only().media
    assert media.state == MediaFile.PENDING and "HTTP 502" in media.reason
    assert downloads.drain_now() == 0  # not due yet
    sweep()
    assert downloads.drain_now() == 1
    assert only().media.state == MediaFile.STORED
