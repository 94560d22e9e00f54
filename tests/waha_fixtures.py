"""Fixtures for the WAHA tests: a fake WAHA server and an account linked through it."""

import json

import pytest
from django.core.cache import cache

from tests.fake_waha import FakeWaha, sign
from whatsapp.models import Chat, WahaConnection


@pytest.fixture
def waha_server():
    """The engine, version and tier the fake WAHA runs (FakeWaha's arguments); a test changes
    them with @pytest.mark.parametrize("waha_server", [...])."""
    return {}


@pytest.fixture
def fake_waha(waha_server):
    cache.clear()  # what a test's WAHA said about LIDs is not another test's
    fake = FakeWaha(**waha_server).start()
    yield fake
    fake.stop()


@pytest.fixture
def waha_connection(workspace, owner, fake_waha):
    fake_waha.sessions.setdefault("default", {})  # started in WAHA, as the connect flow does
    return WahaConnection.objects.create(
        workspace=workspace,
        base_url=fake_waha.url,
        api_key=fake_waha.api_key,
        session="default",
        created_by=owner,
        server={"version": fake_waha.version, "engine": fake_waha.engine, "tier": fake_waha.tier},
    )


@pytest.fixture
def waha_account(waha_connection):
    """+15105566777, linked to the fake WAHA's session 'default' and connected."""
    return waha_connection.link("+15105566777")


@pytest.fixture
def waha_chat(waha_account):
    chat, _ = Chat.get_or_create_direct(waha_account, "+14151231234", "John Doe")
    return chat


@pytest.fixture
def post_event(client, waha_connection):
    """Post an event body to the connection's endpoint, signed like WAHA signs it (or with the
    `signature` given; None leaves it unsigned)."""

    def post(event, signature="sign", connection=None):
        connection = connection or waha_connection
        body = json.dumps(event).encode()
        headers = {}
        if signature is not None:
            value = sign(body, connection.hmac_key) if signature == "sign" else signature
            headers = {"X-Webhook-Hmac": value, "X-Webhook-Hmac-Algorithm": "sha512"}
        return client.post(
            f"/whatsapp/waha/{connection.secret}/",
            data=body,
            content_type="application/json",
            headers=headers,
        )

    return post
