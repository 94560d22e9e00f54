"""M2: with MEDIA_S3_BUCKET set, every file lives in an S3-compatible object store (here a real
S3 API server, moto, on a free port): a received file is written there by the worker, its link
redirects to a short-lived presigned URL that serves the bytes, and retention deletes it."""

import json
import os
import subprocess
import sys
import uuid
from datetime import timedelta

import pytest
import requests
from django.test import override_settings
from django.utils import timezone

from tests.s3_server import client, object_store
from webhooks.endpoints import links
from whatsapp.media import downloads, retention
from whatsapp.media.models import MediaFile
from whatsapp.models import Message

PDF = b"%PDF-1.4 " + os.urandom(3000)


@pytest.fixture
def bucket(s3_endpoint):
    name = "timelines-" + uuid.uuid4().hex[:12]
    client(s3_endpoint).create_bucket(Bucket=name)
    with override_settings(
        STORAGES={
            "default": object_store(s3_endpoint, name),
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
    ):
        yield name


def keys(endpoint, bucket):
    listed = client(endpoint).list_objects_v2(Bucket=bucket)
    return [item["Key"] for item in listed.get("Contents", [])]


def test_the_settings_read_the_object_store_from_the_environment():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "timelines.settings",
        "SECRET_KEY": "x" * 50,
        "MEDIA_S3_BUCKET": "files",
        "MEDIA_S3_ENDPOINT_URL": "http://s3.internal:9000",
        "MEDIA_S3_REGION": "eu-west-1",
        "MEDIA_S3_ACCESS_KEY_ID": "id",
        "MEDIA_S3_SECRET_ACCESS_KEY": "secret",
        "MEDIA_S3_PRESIGNED_SECONDS": "120",
    }
    code = (
        "import json, django; django.setup(); from django.conf import settings; "
        "print(json.dumps(settings.STORAGES['default']))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    default = json.loads(out.stdout)
    assert default["BACKEND"] == "storages.backends.s3.S3Storage"
    assert default["OPTIONS"] | {"file_overwrite": False} == {
        "bucket_name": "files",
        "endpoint_url": "http://s3.internal:9000",
        "region_name": "eu-west-1",
        "access_key": "id",
        "secret_key": "secret",
        "querystring_expire": 120,
        "file_overwrite": False,
        "default_acl": None,
        "signature_version": "s3v4",
    }


def test_a_received_file_is_served_from_the_object_store(
    client, bucket, s3_endpoint, waha_account, fake_waha, post_event
):
    payload = fake_waha.message_with_file(
        "14151231234@c.us", PDF, "application/pdf", "Q3 report.pdf"
    )
    post_event(fake_waha.event(payload))
    downloads.drain_now()
    media = Message.objects.get().media
    assert media.state == MediaFile.STORED and keys(s3_endpoint, bucket) == [media.name]
    response = client.get(links.make(media.message_id).removeprefix("http://testserver"))
    assert response.status_code == 302
    presigned = response["Location"]
    assert presigned.startswith(s3_endpoint + "/") and "X-Amz-Expires=300" in presigned
    served = requests.get(presigned, timeout=10)
    assert served.status_code == 200 and served.content == PDF
    assert "Q3 report.pdf" in served.headers["Content-Disposition"]
    assert served.headers["Content-Type"] == "application/pdf"


def test_retention_deletes_the_object(
    client, bucket, s3_endpoint, waha_account, fake_waha, post_event
):
    post_event(
        fake_waha.event(
            fake_waha.message_with_file("14151231234@c.us", PDF, "application/pdf", "a.pdf")
        )
    )
    downloads.drain_now()
    assert len(keys(s3_endpoint, bucket)) == 1
    assert retention.remove_expired(timezone.now() + timedelta(days=91)) == 1
    assert keys(s3_endpoint, bucket) == []
    message = Message.objects.get()
    response = client.get(links.make(message.pk).removeprefix("http://testserver"))
    assert response.status_code == 410
