"""M1 / issue 18: a file on the account's WAHA server is fetched past the private-address guard
only when the operator trusts that server (WAHA_TRUSTED_URLS), exactly as the WAHA transport
is: the account's own base_url, typed on the connect page, is not a reason to reach a private
address."""

import pytest
from django.test import override_settings

from webhooks.endpoints import links
from whatsapp.media.sources import trusted_for
from whatsapp.models import Message
from whatsapp.store import store_message

SECRET = b"loopback-only secret"


@pytest.fixture
def message(waha_chat, fake_waha):
    fake_waha.files["/api/files/default/secret.txt"] = ("text/plain", SECRET)
    return store_message(
        waha_chat,
        direction=Message.RECEIVED,
        origin="contact",
        attachment_url=fake_waha.url + "/api/files/default/secret.txt",
        attachment_name="secret.txt",
    )


def test_it_trusts_what_the_transport_trusts(waha_account, fake_waha):
    with override_settings(WAHA_TRUSTED_URLS=[]):
        assert trusted_for(waha_account) == ()
    with override_settings(WAHA_TRUSTED_URLS=[fake_waha.url]):
        assert trusted_for(waha_account) == (fake_waha.url,)


def test_a_simulator_account_trusts_nothing(account):
    with override_settings(WAHA_TRUSTED_URLS=["http://127.0.0.1:3000"]):
        assert trusted_for(account) == ()


def test_an_untrusted_private_waha_is_not_reached(client, message, fake_waha):
    with override_settings(ALLOW_PRIVATE_URLS=False, WAHA_TRUSTED_URLS=[]):
        response = client.get(links.make(message.pk).removeprefix("http://testserver"))
    assert SECRET not in b"".join(getattr(response, "streaming_content", [response.content]))
    assert fake_waha.calls == []
