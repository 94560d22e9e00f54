"""Switching an endpoint off (or on) needs no DNS: a resolver outage must not stop an owner, the
API or the CLI from turning a webhook off. A changed URL is still checked, lookup included."""

import json
import socket

import pytest
from django.core.exceptions import ValidationError

from webhooks.endpoints.models import Endpoint

URL = "https://example.com/hook"


@pytest.fixture
def endpoint(workspace):
    return Endpoint.create(workspace, url=URL, event_type="message:new")  # DNS still up here


@pytest.fixture
def dns_down(monkeypatch, settings):
    settings.ALLOW_PRIVATE_URLS = False  # as in production: every URL's host is looked up
    looked_up = []

    def outage(host, *args, **kwargs):
        looked_up.append(host)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", outage)
    return looked_up


def test_it_switches_an_endpoint_off_and_on_without_a_lookup(endpoint, dns_down):
    endpoint.change(enabled=False)
    assert Endpoint.objects.get(pk=endpoint.pk).enabled is False
    endpoint.change(enabled=True)
    assert Endpoint.objects.get(pk=endpoint.pk).enabled is True
    assert dns_down == []


def test_it_switches_an_endpoint_off_over_the_api_during_an_outage(
    client, api_token, endpoint, dns_down
):
    response = client.patch(
        f"/integrations/api/webhooks/{endpoint.pk}",
        json.dumps({"enabled": False}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {api_token}",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["data"]["enabled"] is False
    assert Endpoint.objects.get(pk=endpoint.pk).enabled is False


def test_it_changes_the_event_type_without_a_lookup(endpoint, dns_down):
    endpoint.change(event_type="chat:created")
    assert Endpoint.objects.get(pk=endpoint.pk).event_type == "chat:created"
    assert dns_down == []


def test_a_new_url_is_still_looked_up(endpoint, dns_down):
    with pytest.raises(ValidationError, match="cannot resolve"):
        endpoint.change(url="https://example.org/hook", enabled=False)
    assert dns_down == ["example.org"]
    stored = Endpoint.objects.get(pk=endpoint.pk)
    assert (stored.url, stored.enabled) == (URL, True)
