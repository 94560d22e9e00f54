"""The owner connects a WhatsApp account through WAHA, up to the session WORKING."""

import pytest
from django.test import override_settings

from tests.fake_waha import PNG, fixture
from whatsapp.models import Account, WahaConnection


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


def connect_url(workspace):
    return f"/w/{workspace.pk}/accounts/connect/"


def start(owner_client, workspace, fake_waha, **changes):
    form = {"base_url": fake_waha.url, "api_key": fake_waha.api_key, "session": "default"}
    return owner_client.post(connect_url(workspace), {**form, **changes})


def test_it_starts_the_session_with_our_signed_webhook(owner_client, workspace, fake_waha):
    response = start(owner_client, workspace, fake_waha)
    connection = WahaConnection.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/w/{workspace.pk}/accounts/connect/{connection.pk}/"
    (body,) = fake_waha.bodies("/api/sessions")
    assert body["name"] == "default" and body["start"] is True
    (webhook,) = body["config"]["webhooks"]
    assert webhook["url"] == f"http://testserver/whatsapp/waha/{connection.secret}/"
    assert webhook["events"] == [
        "message.any",
        "message.ack",
        "message.ack.group",
        "session.status",
    ]
    assert body["config"]["webjs"] == {"tagsEventsOn": True}
    assert webhook["hmac"] == {"key": connection.hmac_key} and len(connection.hmac_key) >= 40
    assert len(connection.secret) >= 40  # ≥ 128 bits in the URL


def test_it_shows_the_qr_code_until_the_phone_is_linked_then_the_account(
    owner_client, workspace, owner, fake_waha
):
    page = start(owner_client, workspace, fake_waha)["Location"]
    response = owner_client.get(page)
    assert b'id="qr"' in response.content and b"window.location.reload" in response.content
    qr = owner_client.get(page + "qr.png")
    assert qr["Content-Type"] == "image/png" and qr.content == PNG

    fake_waha.status = "WORKING"
    response = owner_client.get(page)
    assert b'id="connected-phone">+15105566777<' in response.content
    assert b"window.location.reload" not in response.content
    account = Account.objects.get()
    assert account.is_connected and account.transport == "waha"
    assert account.connected_by == owner
    assert account.transport_settings["session"] == "default"
    assert account.transport_settings["base_url"] == fake_waha.url
    accounts = owner_client.get(f"/w/{workspace.pk}/accounts/")
    assert b"+15105566777" in accounts.content and b"Connect WhatsApp account" in accounts.content


def test_a_working_event_links_the_account_without_the_page(
    owner_client, workspace, fake_waha, post_event
):
    start(owner_client, workspace, fake_waha)
    connection = WahaConnection.objects.latest("pk")  # post_event made one of its own first
    post_event(fixture("session_status"), connection=connection)
    connection.refresh_from_db()
    assert connection.account.phone == "+15105566777" and connection.account.is_connected


OPERATORS = {
    "webhooks": [{"url": "https://crm.example.com/waha", "events": ["message"]}],
    "proxy": {"server": "proxy.example.com:3128", "username": "u", "password": "p"},
    "metadata": {"tenant": "42"},
    "webjs": {"tagsEventsOn": False},
}


def test_an_existing_session_keeps_the_operators_config_and_gains_our_webhook(
    owner_client, workspace, fake_waha
):
    fake_waha.sessions["default"] = OPERATORS
    fake_waha.status = "STOPPED"
    assert start(owner_client, workspace, fake_waha).status_code == 302
    (put,) = [body for method, _, body, _ in fake_waha.calls if method == "PUT"]
    config = put["config"]
    assert config["proxy"] == OPERATORS["proxy"] and config["metadata"] == {"tenant": "42"}
    crm, ours = config["webhooks"]
    assert crm == OPERATORS["webhooks"][0]
    assert ours["url"].startswith("http://testserver/whatsapp/waha/")
    assert "message.ack.group" in ours["events"] and config["webjs"] == {"tagsEventsOn": True}
    assert "/api/sessions/default/start" in fake_waha.paths("POST")  # it was stopped


def test_connecting_the_same_session_again_changes_nothing_in_waha(
    owner_client, workspace, fake_waha
):
    start(owner_client, workspace, fake_waha)
    first = WahaConnection.objects.get()
    fake_waha.status = "WORKING"
    fake_waha.calls.clear()
    assert start(owner_client, workspace, fake_waha).status_code == 302
    assert WahaConnection.objects.get() == first  # the same secret URL and HMAC key
    assert [m for m, *_ in fake_waha.calls if m in ("PUT",)] == []  # not updated...
    assert "/api/sessions/default/start" not in fake_waha.paths()  # ...nor restarted


def test_an_older_webhook_of_ours_is_replaced_and_the_operators_kept(
    owner_client, workspace, fake_waha
):
    stale = {"url": "http://testserver/whatsapp/waha/an-old-secret/", "events": ["message.any"]}
    fake_waha.sessions["default"] = {**OPERATORS, "webhooks": OPERATORS["webhooks"] + [stale]}
    fake_waha.status = "WORKING"
    start(owner_client, workspace, fake_waha)
    connection = WahaConnection.objects.get()
    (put,) = [body for method, _, body, _ in fake_waha.calls if method == "PUT"]
    crm, ours = put["config"]["webhooks"]
    assert crm == OPERATORS["webhooks"][0] and connection.secret in ours["url"]
    assert "/api/sessions/default/start" not in fake_waha.paths()  # WAHA restarts it itself


def test_it_says_so_when_waha_refuses_the_key(owner_client, workspace, fake_waha):
    response = start(owner_client, workspace, fake_waha, api_key="wrong")
    assert response.status_code == 200
    assert b"WAHA refused the API key" in response.content
    assert not WahaConnection.objects.exists()


def test_it_refuses_a_private_waha_url_the_operator_does_not_trust(
    owner_client, workspace, fake_waha
):
    with override_settings(ALLOW_PRIVATE_URLS=False):
        response = start(owner_client, workspace, fake_waha)
        assert b"WAHA_TRUSTED_URLS" in response.content and fake_waha.calls == []
        with override_settings(WAHA_TRUSTED_URLS=[fake_waha.url]):
            assert start(owner_client, workspace, fake_waha).status_code == 302


def test_only_the_owner_may_connect_accounts(client, workspace, member, outsider, fake_waha):
    for user in (member, outsider):
        client.force_login(user)
        assert client.get(connect_url(workspace)).status_code == 404
    client.force_login(member)
    accounts = client.get(f"/w/{workspace.pk}/accounts/")
    assert accounts.status_code == 200 and b"Connect WhatsApp account" not in accounts.content


def test_a_disconnected_phone_is_linked_again_from_the_accounts_page(
    owner_client, workspace, waha_account, waha_connection, fake_waha, post_event
):
    post_event(fixture("session_status", payload__status="SCAN_QR_CODE"))
    accounts = owner_client.get(f"/w/{workspace.pk}/accounts/").content.decode()
    page = f"/w/{workspace.pk}/accounts/connect/{waha_connection.pk}/"
    assert "Link the phone again" in accounts and page in accounts
    assert 'id="qr"' in owner_client.get(page).content.decode()
    fake_waha.status = "WORKING"
    assert b"+15105566777" in owner_client.get(page).content
    waha_account.refresh_from_db()
    assert waha_account.is_connected


def test_the_operators_own_waha_is_offered_with_its_key(owner_client, workspace, fake_waha):
    with override_settings(WAHA_URL=fake_waha.url, WAHA_API_KEY=fake_waha.api_key):
        form = owner_client.get(connect_url(workspace)).content.decode()
        assert f'value="{fake_waha.url}"' in form and fake_waha.api_key not in form
        response = start(owner_client, workspace, fake_waha, api_key="")
    assert response.status_code == 302
    assert WahaConnection.objects.get().api_key == fake_waha.api_key


def test_waha_posts_to_the_address_it_reaches_us_at(owner_client, workspace, fake_waha):
    with override_settings(WAHA_WEBHOOK_BASE_URL="http://app:8000"):
        start(owner_client, workspace, fake_waha)
    (body,) = fake_waha.bodies("/api/sessions")
    assert body["config"]["webhooks"][0]["url"].startswith("http://app:8000/whatsapp/waha/")


def test_a_qr_code_waha_cannot_show_yet_says_why(owner_client, workspace, fake_waha):
    page = start(owner_client, workspace, fake_waha)["Location"]
    fake_waha.status = "STARTING"
    qr = owner_client.get(page + "qr.png")
    assert qr.status_code == 404
    assert "Session status is not as expected" in qr.content.decode()


def test_a_session_waha_will_not_create_is_reported_and_nothing_is_kept(
    owner_client, workspace, fake_waha
):
    fake_waha.reply("POST", "/api/sessions", 500, {"statusCode": 500, "message": "disk full"})
    response = start(owner_client, workspace, fake_waha)
    assert response.status_code == 200 and "disk full" in response.content.decode()
    assert not WahaConnection.objects.exists()
