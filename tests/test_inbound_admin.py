"""The admin's actions on inbound webhooks: generate a new URL, enable, disable."""

import pytest
from django.contrib.auth import get_user_model

from webhooks.inbound.models import Attempt, InboundWebhook

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/inbound/inboundwebhook/"


@pytest.fixture
def admin_client(client):
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw-root-123")
    client.force_login(admin)
    return client


def act(admin_client, action, webhook):
    data = {"action": action, "_selected_action": [webhook.pk]}
    assert admin_client.post(CHANGELIST, data).status_code == 302
    return InboundWebhook.objects.get(pk=webhook.pk)


def test_it_regenerates_disables_and_enables_from_the_admin(admin_client, inbound_webhook):
    old_token = inbound_webhook.token
    assert act(admin_client, "regenerate", inbound_webhook).token != old_token
    assert act(admin_client, "disable", inbound_webhook).enabled is False
    assert act(admin_client, "enable", inbound_webhook).enabled is True


def test_it_lists_webhooks_and_attempts(admin_client, inbound_webhook):
    admin_client.post(inbound_webhook.path, "{}", content_type="application/json")
    assert Attempt.objects.count() == 1
    assert admin_client.get(CHANGELIST).status_code == 200
    assert admin_client.get(f"{CHANGELIST}{inbound_webhook.pk}/change/").status_code == 200
    page = admin_client.get("/admin/inbound/attempt/")
    assert page.status_code == 200 and b"400" in page.content
