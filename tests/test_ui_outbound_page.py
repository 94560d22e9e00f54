"""Integrations / Outbound webhook: settings, signing secret, activity with Redeliver, banner."""

import pytest
from django.utils import timezone

from webhooks.outbound.models import (
    SWITCHED_OFF_BY_ERRORS,
    Attempt,
    Delivery,
    OutboundWebhook,
)

RECEIVER = "http://127.0.0.1:9/hook"


@pytest.fixture
def webhook(workspace):
    return OutboundWebhook.for_workspace(workspace)


def _page(workspace):
    return f"/w/{workspace.pk}/integrations/outbound/"


def _attempt(webhook, chat, **fields):
    delivery = Delivery.objects.create(webhook=webhook, kind=Delivery.MESSAGE, chat=chat, body="{}")
    defaults = {"number": 1, "url": RECEIVER, "request_body": "{}"}
    return Attempt.objects.create(webhook=webhook, delivery=delivery, **{**defaults, **fields})


def test_it_shows_the_owner_settings_secret_and_log(client, owner, webhook):
    client.force_login(owner)
    html = client.get(_page(webhook.workspace)).content.decode()
    for text in ["Webhook URL", "Aggregation granularity", "Don&#x27;t aggregate", "Every 6 hours"]:
        assert text in html
    assert "Webhook enabled" in html
    assert webhook.secret in html and "Reveal secret" in html
    assert f"/w/{webhook.workspace.pk}/integrations/outbound/log/" in html
    assert "No request sent yet" in html


def test_it_shows_members_a_read_only_page_without_the_secret(client, member, webhook):
    client.force_login(member)
    html = client.get(_page(webhook.workspace)).content.decode()
    assert "Only the owner can change them." in html
    assert webhook.secret not in html
    assert "/log/" not in html and "Rotate" not in html and "Save" not in html
    assert 'name="url"' in html and "disabled" in html


def test_it_saves_url_granularity_and_enabled(client, owner, webhook):
    client.force_login(owner)
    form = {"url": RECEIVER, "granularity": "6", "enabled": "on"}
    response = client.post(_page(webhook.workspace), form, follow=True)
    assert "Outbound webhook enabled" in response.content.decode()
    webhook.refresh_from_db()
    assert (webhook.url, webhook.granularity, webhook.enabled) == (RECEIVER, 6, True)
    end = webhook.window_end.strftime("%Y-%m-%d %H:%M")
    assert f"{end} UTC; its bundles go out" in response.content.decode()
    response = client.post(_page(webhook.workspace), {"url": RECEIVER, "granularity": "0"})
    assert response.status_code == 302
    webhook.refresh_from_db()
    assert not webhook.enabled and webhook.granularity == 0


def test_it_refuses_a_bad_url_and_enabling_without_one(client, owner, webhook):
    client.force_login(owner)
    response = client.post(_page(webhook.workspace), {"url": "ftp://x", "granularity": "0"})
    assert response.status_code == 400
    assert "This URL cannot be used" in response.content.decode()
    assert "The settings were not saved" in response.content.decode()
    response = client.post(
        _page(webhook.workspace), {"url": "", "granularity": "0", "enabled": "1"}
    )
    assert "Enter the URL to notify before enabling" in response.content.decode()
    webhook.refresh_from_db()
    assert webhook.url == "" and not webhook.enabled


def test_it_rotates_the_signing_secret(client, owner, webhook):
    client.force_login(owner)
    old = webhook.secret
    response = client.post(f"{_page(webhook.workspace)}rotate-secret/", follow=True)
    webhook.refresh_from_db()
    assert webhook.secret != old and webhook.secret.startswith("whsec_")
    assert "New signing secret generated" in response.content.decode()
    assert client.get(f"{_page(webhook.workspace)}rotate-secret/").status_code == 405


def test_it_lists_the_latest_deliveries_and_redelivers(client, owner, webhook, chat):
    ok = _attempt(webhook, chat, status=200, succeeded=True)
    _attempt(webhook, chat, status=None, error="Connection refused")
    client.force_login(owner)
    html = client.get(_page(webhook.workspace)).content.decode()
    assert html.index("Connection refused") < html.index(">200<")  # newest first
    assert "John Doe" in html
    url = f"{_page(webhook.workspace)}deliveries/{ok.delivery_id}/redeliver/"
    response = client.post(url, follow=True)
    assert "Redelivery queued" in response.content.decode()
    copy = Delivery.objects.get(redelivery_of=ok.delivery)
    assert copy.event_id == ok.delivery.event_id and copy.state == Delivery.PENDING


def test_it_shows_why_and_when_it_switched_itself_off(client, owner, webhook, chat):
    webhook.configure(url=RECEIVER, enabled=True)
    _attempt(webhook, chat, status=500, error="HTTP 500 from the receiver")
    OutboundWebhook.objects.filter(pk=webhook.pk).update(
        enabled=False, disabled_at=timezone.now(), disabled_reason=SWITCHED_OFF_BY_ERRORS
    )
    client.force_login(owner)
    html = client.get(_page(webhook.workspace)).content.decode()
    assert "Switched off automatically on" in html
    assert "More than 10 consecutive delivery errors." in html
    assert "Last error: HTTP 500 from the receiver" in html
    # Saving other settings while it is off keeps the explanation.
    client.post(_page(webhook.workspace), {"url": RECEIVER, "granularity": "1"})
    assert "Switched off automatically on" in client.get(_page(webhook.workspace)).content.decode()
    client.post(_page(webhook.workspace), {"url": RECEIVER, "granularity": "1", "enabled": "on"})
    assert "Switched off automatically" not in client.get(_page(webhook.workspace)).content.decode()


def test_it_refuses_a_delivery_of_another_workspace(client, owner, webhook, outsider):
    theirs = OutboundWebhook.for_workspace(outsider.owned_workspaces.get())
    delivery = Delivery.objects.create(webhook=theirs, kind=Delivery.MESSAGE, body="{}")
    client.force_login(owner)
    url = f"{_page(webhook.workspace)}deliveries/{delivery.pk}/redeliver/"
    assert client.post(url).status_code == 404
