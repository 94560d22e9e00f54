"""M1, M2, M4 in the production shape: WAHA events with files posted to gunicorn are answered at
once; the qcluster workers fetch each file exactly once (one lease, whichever process runs it)
into the storage the web workers read; the links then stream the bytes through nginx, after
WAHA deleted its copies."""

import hashlib
import hmac
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.fake_waha import CORE_NEW, FakeWaha
from tests.production.clusters import swapped_clusters
from tests.production.conftest import SECRET_KEY
from tests.production.helpers import attachment_link, linked_to_waha, post, tenant
from whatsapp.media.models import MediaFile
from whatsapp.models import Message

pytestmark = pytest.mark.production

FILES = 20


@pytest.fixture(scope="module")
def waha(server):
    fake = FakeWaha(**CORE_NEW).start()
    fake.status = "WORKING"
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def clusters(server, waha):
    # The workers reach the fake WAHA on 127.0.0.1 because the operator trusts it, as compose
    # trusts its own WAHA (WAHA_URL); nothing else private is allowed.
    with swapped_clusters(server, "media", WAHA_TRUSTED_URLS=waha.url) as processes:
        yield processes


@pytest.fixture(scope="module")
def connection(server, waha, django_db_blocker):
    with django_db_blocker.unblock():
        return linked_to_waha(tenant("Media", accounts=0), waha)


def signed(connection, event):
    body = json.dumps(event).encode()
    digest = hmac.new(connection.hmac_key.encode(), body, hashlib.sha512).hexdigest()
    return body, {"X-Webhook-Hmac": digest, "X-Webhook-Hmac-Algorithm": "sha512"}


def test_received_files_are_fetched_once_and_served_by_every_web_worker(
    server, clusters, waha, connection, orm
):
    contents = [os.urandom(200 * 1024) for _ in range(FILES)]
    events = [
        waha.event(waha.message_with_file(f"1415123{n:04d}@c.us", data, "image/jpeg", f"{n}.jpg"))
        for n, data in enumerate(contents)
    ]
    path = f"/whatsapp/waha/{connection.secret}/"

    def deliver(event):
        body, headers = signed(connection, event)
        started = time.monotonic()
        answer = post(server, path, body, headers=headers, port=server.direct_port)
        return answer.status, time.monotonic() - started

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(deliver, events))
    assert [status for status, _ in answers] == [200] * FILES

    deadline = time.monotonic() + 60
    stored = MediaFile.objects.filter(state=MediaFile.STORED, workspace=connection.workspace)
    while stored.count() < FILES:
        assert time.monotonic() < deadline, list(MediaFile.objects.values("state", "reason"))
        time.sleep(0.2)
    waha.expire_files()
    fetched = [p for m, p, _, _ in waha.calls if p.startswith("/api/files/")]
    assert len(fetched) == len(set(fetched)) == FILES  # each file fetched exactly once

    for data, event in zip(contents, events, strict=True):
        message = Message.objects.get(external_id=event["payload"]["id"].split("_")[-1])
        assert message.attachment_size == len(data)
        for _ in range(3):  # whichever gunicorn worker answers
            answer = post(server, attachment_link(message, SECRET_KEY), b"", method="GET")
            assert answer.status == 200 and answer.body == data, answer
