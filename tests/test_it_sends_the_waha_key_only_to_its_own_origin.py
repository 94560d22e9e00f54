"""M1 / issue 18: WAHA's API key (it controls the phone) goes with a file download only to the
very origin of the account's WAHA server — never to a URL that merely starts with the same
characters."""

import pytest

from tests.file_server import FileServer
from whatsapp.media import downloads
from whatsapp.media.models import MediaFile
from whatsapp.media.sources import headers_for
from whatsapp.models import Account, Message
from whatsapp.store import store_message

BASE = "https://waha.example.com"


@pytest.fixture
def remote_waha(workspace):
    return Account(
        workspace=workspace,
        transport="waha",
        transport_settings={"base_url": BASE, "api_key": "the-key", "session": "default"},
    )


@pytest.mark.parametrize(
    "url",
    [
        "https://waha.example.com.evil.net/x",
        "https://waha.example.com@evil.net/x",
        "https://waha.example.com:443@evil.net/x",
        "https://user@waha.example.com/x",
        "http://waha.example.com/x",
        "https://waha.example.com:8443/x",
        "https://waha.example.co/x",
        "not a url",
        "",
    ],
)
def test_it_sends_no_key_elsewhere(remote_waha, url):
    assert headers_for(remote_waha, url) == {}


@pytest.mark.parametrize(
    "url", ["https://waha.example.com/api/files/a.jpg", "https://WAHA.example.com:443/x"]
)
def test_it_sends_the_key_to_its_own_server(remote_waha, url):
    assert headers_for(remote_waha, url) == {"X-Api-Key": "the-key"}


def test_a_file_url_that_starts_like_the_waha_url_gets_no_key(waha_chat, fake_waha):
    """End to end: a media URL spelled `<WAHA base URL>@<another host>` reaches the other host,
    and must not carry the key there."""
    other = FileServer()
    other.files["/x.pdf"] = ("application/pdf", b"%PDF-1.4")
    try:
        message = store_message(
            waha_chat,
            direction=Message.RECEIVED,
            origin="contact",
            attachment_name="x.pdf",
        )
        MediaFile.expect(message, source=f"{fake_waha.url}@{other.host}/x.pdf")
        downloads.drain_now()
        assert other.requests, "the other host was asked"
        assert all("X-Api-Key" not in headers for headers in other.headers_seen())
    finally:
        other.close()
