"""M6: the chat page shows an image as a thumbnail and any other file as a named link with its
size, served to the workspace's members only; a file not (or no longer) stored says why."""

import io
from datetime import timedelta

from django.utils import timezone
from PIL import Image

from tests.media_helpers import png, receive_file
from whatsapp.media import retention
from whatsapp.media.models import MediaFile

PDF = b"%PDF-1.4 " + b"x" * 2039


def file_url(message):
    return f"/chat/{message.chat_id}/files/{message.message_id}/"


def test_an_image_is_a_thumbnail_and_a_pdf_a_named_link(client, owner, account, tmp_path):
    photo = receive_file(account, tmp_path, "receipt.png", png())
    receive_file(account, tmp_path, "contract.pdf", PDF)
    client.force_login(owner)
    page = client.get(f"/chat/{photo.chat_id}/messages/").content.decode()
    assert f'<img class="msg-thumb" src="{file_url(photo)}?view=thumb"' in page
    assert "📎 contract.pdf</a>" in page and "(2.0\xa0KB)" in page
    inline = client.get(file_url(photo) + "?view=inline")
    assert inline["Content-Disposition"].startswith("inline")
    assert b"".join(inline.streaming_content) == png()


def test_a_thumbnail_is_a_small_jpeg_made_once(client, owner, account, tmp_path):
    photo = receive_file(account, tmp_path, "big.png", png(1600, 1200))
    client.force_login(owner)
    first = client.get(file_url(photo) + "?view=thumb")
    assert first["Content-Type"] == "image/jpeg"
    with Image.open(io.BytesIO(b"".join(first.streaming_content))) as thumb:
        assert thumb.size == (480, 360)
    name = MediaFile.objects.get(pk=photo.pk).thumbnail
    client.get(file_url(photo) + "?view=thumb")
    assert MediaFile.objects.get(pk=photo.pk).thumbnail == name


def test_a_picture_that_is_not_one_has_no_thumbnail(client, owner, account, tmp_path):
    fake = receive_file(account, tmp_path, "not.png", b"\x89PNG but not really")
    client.force_login(owner)
    assert client.get(file_url(fake) + "?view=thumb").status_code == 404
    assert client.get(file_url(fake)).status_code == 200


def test_files_are_for_members_only(client, member, outsider, account, tmp_path):
    message = receive_file(account, tmp_path, "contract.pdf", PDF)
    assert client.get(file_url(message)).status_code == 302  # to sign in
    client.force_login(outsider)
    assert client.get(file_url(message)).status_code == 404
    client.force_login(member)
    response = client.get(file_url(message))
    assert response.status_code == 200 and b"".join(response.streaming_content) == PDF
    assert response["Content-Disposition"] == 'attachment; filename="contract.pdf"'


def test_an_svg_is_never_shown_inline(client, owner, account, tmp_path):
    message = receive_file(account, tmp_path, "logo.svg", b"<svg onload='alert(1)'/>")
    client.force_login(owner)
    response = client.get(file_url(message) + "?view=inline")
    assert response["Content-Disposition"].startswith("attachment")
    assert "msg-thumb" not in client.get(f"/chat/{message.chat_id}/messages/").content.decode()


def test_a_removed_file_says_so(client, owner, account, tmp_path):
    message = receive_file(account, tmp_path, "contract.pdf", PDF)
    retention.remove_expired(timezone.now() + timedelta(days=91))
    client.force_login(owner)
    page = client.get(f"/chat/{message.chat_id}/messages/").content.decode()
    assert "📎 contract.pdf <span" in page and "(2.0\xa0KB)" in page
    assert "removed after 90 days" in page
    assert client.get(file_url(message)).status_code == 410


def test_an_unavailable_file_says_why(client, owner, account, tmp_path):
    message = receive_file(account, tmp_path, "contract.pdf", PDF)
    MediaFile.objects.filter(pk=message.pk).update(
        state=MediaFile.UNAVAILABLE, reason="WAHA no longer has this message."
    )
    client.force_login(owner)
    page = client.get(f"/chat/{message.chat_id}/messages/").content.decode()
    assert "not available: WAHA no longer has this message." in page
