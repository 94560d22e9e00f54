"""M1, hostile files: a file server that lies about Content-Length, never finishes, sends
without end or answers with a web page; file names with `../`, NUL or 500 characters; a WAHA
media.url on another origin. Each ends with a clear reason on the message (or a safe name in
the storage), and the message itself is kept."""

import pytest
from django.test import override_settings

from tests.file_server import FileServer
from whatsapp.media import downloads, fetch
from whatsapp.media.models import MediaFile
from whatsapp.models import Message

CONTACT = "14151231234@c.us"


@pytest.fixture
def files():
    server = FileServer()
    yield server
    server.close()


def receive(fake_waha, post_event, url=None, filename="a.jpg", mimetype="image/jpeg"):
    payload = fake_waha.message_with_file(CONTACT, b"\xff\xd8 ok", mimetype, filename, body="hi")
    if url:
        payload["media"]["url"] = url
    post_event(fake_waha.event(payload))
    downloads.drain_now()
    message = Message.objects.select_related("media").get()
    assert message.text == "hi"  # never lost for its file
    return message.media


@pytest.mark.parametrize(
    "kind, reason, state",
    [
        ("short", "reading the response failed", MediaFile.PENDING),
        ("html", "answered with a web page instead of the file", MediaFile.UNAVAILABLE),
    ],
)
def test_a_hostile_server_gets_a_reason(
    waha_account, fake_waha, post_event, files, kind, reason, state
):
    files.hostile["/f"] = kind
    media = receive(fake_waha, post_event, files.url + "/f")
    assert media.state == state and reason in media.reason, media.reason


def test_a_server_that_never_finishes_is_cut_off(
    waha_account, fake_waha, post_event, files, monkeypatch
):
    monkeypatch.setattr(fetch, "DEADLINE", 1.0)
    files.hostile["/f"] = "stalls"
    media = receive(fake_waha, post_event, files.url + "/f")
    assert media.state == MediaFile.PENDING and "timed out" in media.reason, media.reason


def test_a_body_without_end_stops_at_the_limit(waha_account, fake_waha, post_event, files):
    files.hostile["/f"] = "endless"
    with override_settings(MEDIA_MAX_BYTES=1024 * 1024):
        media = receive(fake_waha, post_event, files.url + "/f")
    assert media.state == MediaFile.UNAVAILABLE
    assert media.reason == "The file is larger than 1 MB (MEDIA_MAX_BYTES), so it was not kept."


@pytest.mark.parametrize(
    "filename",
    ["../../../etc/passwd", "in\x00voice.pdf", "x" * 496 + ".pdf", "..", "a/../../b.jpg"],
)
def test_a_file_name_never_leaves_its_place(waha_account, fake_waha, post_event, filename):
    media = receive(fake_waha, post_event, filename=filename)
    assert media.state == MediaFile.STORED, media.reason
    assert media.name.startswith(f"media/{waha_account.workspace_id}/received/")
    parts = media.name.split("/")
    assert ".." not in parts and "\x00" not in media.name and len(parts[-1]) <= 100
    assert "passwd" not in parts[:-1]


def test_a_media_url_on_another_origin_gets_no_key_and_no_private_address(
    waha_account, fake_waha, post_event, files
):
    files.files["/f.jpg"] = ("image/jpeg", b"\xff\xd8 elsewhere")
    with override_settings(ALLOW_PRIVATE_URLS=False, WAHA_TRUSTED_URLS=[fake_waha.url]):
        media = receive(fake_waha, post_event, files.url + "/f.jpg")
    assert files.requests == []
    assert media.state == MediaFile.UNAVAILABLE
    assert "private or reserved address" in media.reason and "WAHA_BASE_URL" in media.reason
