"""P6 over a whole run: no log the servers wrote (gunicorn's access and error logs, the app's
lines among them, each qcluster's, nginx's) carries an inbound URL token, a WAHA events URL
secret, an API token or an attachment link's token — any the suite used. This file runs last
(conftest.py), after every other file's traffic, and adds its own: refusals of every kind, on
every secret, through nginx and straight to gunicorn."""

import secrets
import time

import pytest

from tests.production.conftest import SECRET_KEY
from tests.production.helpers import (
    SECRETS,
    api_token,
    attachment_link,
    direct_chat,
    exchange,
    new_probe,
    post,
    tenant,
)
from timelines.logconfig import fingerprint
from webhooks.inbound.models import InboundWebhook
from whatsapp.models import Message, WahaConnection

pytestmark = pytest.mark.production


@pytest.fixture(scope="module")
def used(server, django_db_blocker):
    with django_db_blocker.unblock():
        shop = tenant("Secrets", credits=5)
        chat = direct_chat(shop.account, name="Secret chat")
        waha = WahaConnection.objects.create(
            workspace=shop.workspace, base_url="http://127.0.0.1:9", created_by=shop.owner
        )
        message = Message.objects.create(
            chat=chat,
            direction=Message.RECEIVED,
            origin=Message.ORIGIN_CONTACT,
            attachment_url="stored:uploads/none/gone.bin",
            attachment_name="gone.bin",
        )
        token = api_token(shop.workspace)
    return shop, waha, token, attachment_link(message, SECRET_KEY)


def refusals(server, port, shop, waha, token, link):
    """Requests that end in a log line on each secret: 4xx answers, a 404 for a wrong token, a
    413 from nginx, a %-encoded path, a malformed request line."""
    unknown = secrets.token_urlsafe(24)
    SECRETS.append(unknown)
    path = shop.path
    post(server, path, b"{not json", port=port)
    post(server, path + "messages/wa_backend:NOPE/", b"", port=port, method="GET")
    post(server, f"/webhooks/inbound/{unknown}/", b"{}", port=port)
    post(server, path.replace("/inbound/", "%2Finbound%2F"), b"{}", port=port)
    post(server, f"/whatsapp/waha/{waha.secret}/", b"{", port=port)
    for bearer in (token, f"tl_{unknown}"):
        headers = {"Authorization": f"Bearer {bearer}"}
        post(server, "/integrations/api/webhooks", b"{", headers, port=port)
    post(server, link, b"", port=port, method="GET")
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Probe: {new_probe('p6')}\r\n"
    exchange(server, (head + "Content-Length: 20000000\r\n\r\n{}").encode(), port=port)
    exchange(server, (head + "Transfer-Encoding: identity\r\n\r\n{}").encode(), port=port)
    exchange(server, f"POST {path} HT\x00TP/1.1\r\n\r\n".encode(), port=port)


def test_no_log_carries_a_secret_the_suite_used(server, used, django_db_blocker):
    shop, waha, token, link = used
    for port in (server.port, server.direct_port):
        refusals(server, port, shop, waha, token, link)
    time.sleep(1.0)  # gunicorn and nginx write their lines just after the answers
    with django_db_blocker.unblock():
        stored = [
            *InboundWebhook.objects.values_list("token", flat=True),
            *WahaConnection.objects.values_list("secret", flat=True),
        ]
    used_secrets = [*stored, *SECRETS]
    assert shop.webhook.token in used_secrets and token in used_secrets
    logs = {path.name: path.read_text(errors="replace") for path in server.logs()}
    found = {
        name: [secret[:8] + "…" for secret in used_secrets if secret in text]
        for name, text in logs.items()
    }
    assert not any(found.values()), found
    # Not because nothing was logged: the fingerprints stand where the secrets were.
    access = logs["gunicorn-access.log"]
    assert f"/webhooks/inbound/[{fingerprint(shop.webhook.token)}]/" in access
    assert f"/whatsapp/waha/[{fingerprint(waha.secret)}]/" in access
    assert (
        f"Bad Request: /webhooks/inbound/[{fingerprint(shop.webhook.token)}]/"
        in logs["gunicorn-error.log"]
    )
    assert " POST inbound 413 " in logs["nginx-access.log"]
