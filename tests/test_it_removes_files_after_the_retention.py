"""M5: files stored more than MEDIA_RETENTION_DAYS ago (90 by default) are removed by a daily
task; the message keeps the file's name, type and size and its link answers 410 saying so; the
owner sees the storage the workspace uses."""

from datetime import timedelta

import time_machine
from django.core.files.storage import default_storage
from django.test import override_settings
from django.utils import timezone
from django_q.models import Schedule

from tests.media_helpers import receive_file
from webhooks.endpoints import links
from whatsapp.media import retention
from whatsapp.media.models import MediaFile

PDF = b"%PDF-1.4 " + b"x" * 991


def test_it_removes_only_what_is_older(client, account, tmp_path):
    with time_machine.travel(timezone.now() - timedelta(days=91)):
        old = receive_file(account, tmp_path, "old.pdf", PDF)
    new = receive_file(account, tmp_path, "new.pdf", PDF, phone="+14151231299")
    old_name = old.media.name
    assert retention.remove_expired() == 1
    old.refresh_from_db()
    assert not default_storage.exists(old_name)
    assert (old.attachment_name, old.attachment_mime, old.attachment_size) == (
        "old.pdf",
        "application/pdf",
        1000,
    )
    assert old.media.state == MediaFile.REMOVED and old.media.removed_at
    response = client.get(links.make(old.pk).removeprefix("http://testserver"))
    assert response.status_code == 410
    assert response.content == b"The file was removed: files are kept 90 days.\n"
    assert client.get(links.make(new.pk).removeprefix("http://testserver")).status_code == 200
    assert retention.remove_expired() == 0


def test_the_days_are_a_setting(account, tmp_path):
    receive_file(account, tmp_path, "a.pdf", PDF)
    with override_settings(MEDIA_RETENTION_DAYS=7):
        assert retention.remove_expired(timezone.now() + timedelta(days=6)) == 0
        assert retention.remove_expired(timezone.now() + timedelta(days=8)) == 1


def test_it_runs_daily(db):
    schedule = Schedule.objects.get(name="Media: retention")
    assert (schedule.func, schedule.schedule_type) == (
        "whatsapp.media.retention.remove_expired",
        Schedule.DAILY,
    )


def test_the_owner_sees_the_storage_used(client, owner, member, workspace, account, tmp_path):
    receive_file(account, tmp_path, "a.pdf", PDF)
    receive_file(account, tmp_path, "b.pdf", PDF * 2, phone="+14151231299")
    client.force_login(owner)
    page = client.get(f"/w/{workspace.pk}/chats/").content.decode()
    assert "Files: 2.9\xa0KB stored, each kept 90 days" in page
    client.force_login(member)
    assert "Files:" not in client.get(f"/w/{workspace.pk}/chats/").content.decode()


def test_a_thumbnail_goes_with_its_file(account, tmp_path):
    from tests.media_helpers import png
    from whatsapp.media.thumbnails import thumbnail_of

    photo = receive_file(account, tmp_path, "a.png", png())
    thumbnail = thumbnail_of(photo.media)
    assert default_storage.exists(thumbnail)
    retention.remove_expired(timezone.now() + timedelta(days=91))
    assert not default_storage.exists(thumbnail)
