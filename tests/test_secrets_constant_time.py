"""P5: shared secrets are never compared character by character. The WAHA events URL's secret is
looked up by its SHA-256 and then compared in constant time; the inbound URL's token is looked up
by its SHA-256 too."""

from django.db import connection as db
from django.test.utils import CaptureQueriesContext

from tests.fake_waha import fixture
from tests.inbound_helpers import fixture_body, post
from timelines.rows import fetch_one
from webhooks.inbound import resolve
from webhooks.inbound.models import token_digest
from whatsapp import waha_webhook
from whatsapp.models import WahaConnection, new_secret, secret_digest


def test_it_finds_the_connection_by_the_digest_of_its_secret(client, post_event, waha_connection):
    with CaptureQueriesContext(db) as queries:
        assert post_event(fixture("message_any_received")).status_code == 200
    lookup = queries.captured_queries[0]["sql"]
    assert secret_digest(waha_connection.secret) in lookup
    assert waha_connection.secret not in lookup


def test_it_compares_the_secret_in_constant_time(post_event, waha_connection, monkeypatch):
    compared = []

    def spy(a, b):
        compared.append((a, b))
        return a == b

    monkeypatch.setattr(waha_webhook, "constant_time_compare", spy)
    post_event(fixture("message_any_received"))
    assert (waha_connection.secret, waha_connection.secret) in compared


def test_a_wrong_or_truncated_secret_is_not_found(client, waha_connection):
    for secret in (new_secret(), waha_connection.secret[:-1], waha_connection.secret + "x", "x"):
        response = client.post(f"/whatsapp/waha/{secret}/", data=b"{}", content_type="text/json")
        assert response.status_code == 404


def test_the_digest_follows_the_secret(waha_connection):
    assert waha_connection.secret_sha256 == secret_digest(waha_connection.secret)
    waha_connection.secret = new_secret()
    waha_connection.save(update_fields=["secret"])
    assert WahaConnection.by_secret(waha_connection.secret) == waha_connection


def test_the_inbound_endpoint_finds_its_webhook_by_the_digest_of_the_token(
    client, inbound_webhook, account, monkeypatch
):
    reads = []

    def spy(sql, params):
        reads.append(params)
        return fetch_one(sql, params)

    monkeypatch.setattr(resolve, "fetch_one", spy)
    assert post(client, inbound_webhook, fixture_body("example_1.json")).status_code == 200
    [params] = reads  # the request's one read
    assert token_digest(inbound_webhook.token) in params.values()
    assert inbound_webhook.token not in params.values()
