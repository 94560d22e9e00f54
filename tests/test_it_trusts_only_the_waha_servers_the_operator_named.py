"""M1 / issue 18: a file on the account's WAHA server is fetched past the private-address guard
only when the operator trusts that server (WAHA_TRUSTED_URLS), exactly as the WAHA transport
is: the account's own base_url, typed on the connect page, is not a reason to reach a private
address."""

import pytest
from django.test import override_settings

from webhooks.endpoints import links
from whatsapp.media import downloads
from whatsapp.media.models import MediaFile
from whatsapp.media.sources import trusted_for
from whatsapp.models import Message
from whatsapp.store import store_message

SECRET = b"loopback-only secret"


@pytest.fixture
def media(waha_chat, fake_waha):
    payload = fake_waha.message_with_file("14151231234@c.us", SECRET, "text/plain", "secret.txt")
    message = store_message(
        waha_chat, direction=Message.RECEIVED, origin="contact", attachment_name="secret.txt"
    )
    return MediaFile.expect(message, source=payload["media"]["url"], ref=payload["id"])


def test_it_trusts_what_the_transport_trusts(waha_account, fake_waha):
    with override_settings(WAHA_TRUSTED_URLS=[]):
        assert trusted_for(waha_account) == ()
    with override_settings(WAHA_TRUSTED_URLS=[fake_waha.url]):
        assert trusted_for(waha_account) == (fake_waha.url,)


def test_a_simulator_account_trusts_nothing(account):
    with override_settings(WAHA_TRUSTED_URLS=["http://127.0.0.1:3000"]):
        assert trusted_for(account) == ()


def test_an_untrusted_private_waha_is_not_reached(client, media, fake_waha):
    with override_settings(ALLOW_PRIVATE_URLS=False, WAHA_TRUSTED_URLS=[]):
        downloads.drain_now()
    media.refresh_from_db()
    assert media.state == MediaFile.UNAVAILABLE
    assert "private or reserved address" in media.reason
    assert fake_waha.calls == []
    response = client.get(links.make(media.message_id).removeprefix("http://testserver"))
    assert response.status_code == 404 and SECRET not in response.content


def test_a_trusted_one_is(media, fake_waha):
    with override_settings(ALLOW_PRIVATE_URLS=False, WAHA_TRUSTED_URLS=[fake_waha.url]):
        downloads.drain_now()
    media.refresh_from_db()
    assert media.state == MediaFile.STORED, media.reason
