"""Behind the deployment's proxy every request comes from the proxy: the client's address is
the X-Real-IP the proxy sets, believed only from an address in TRUSTED_PROXIES (and from
nobody by default), so a client cannot choose the address the attempt log records."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from tests.inbound_helpers import post
from webhooks.inbound.models import Attempt

CLIENT = "203.0.113.7"


def recorded_ip(client, webhook):
    post(client, webhook, b"{", X_Real_IP=CLIENT)  # REMOTE_ADDR: the test client's 127.0.0.1
    return Attempt.objects.latest("id").ip


@pytest.mark.parametrize(
    "trusted, expected",
    [
        ([], "127.0.0.1"),
        (["127.0.0.1"], CLIENT),
        (["127.0.0.0/8", "10.0.0.0/8"], CLIENT),
        (["*"], CLIENT),
        (["10.0.0.0/8"], "127.0.0.1"),
    ],
)
def test_it_takes_the_address_from_a_trusted_proxy_only(
    client, inbound_webhook, settings, trusted, expected
):
    settings.TRUSTED_PROXIES = trusted
    assert recorded_ip(client, inbound_webhook) == expected


def test_a_header_that_is_not_an_address_is_ignored(client, inbound_webhook, settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    post(client, inbound_webhook, b"{", X_Real_IP="203.0.113.7, 10.0.0.1")
    assert Attempt.objects.latest("id").ip == "127.0.0.1"


def test_a_setting_that_is_not_a_network_stops_the_app(client, settings, db):
    settings.TRUSTED_PROXIES = ["nginx"]
    with pytest.raises(ImproperlyConfigured, match="TRUSTED_PROXIES"):
        client.get("/accounts/login/")
