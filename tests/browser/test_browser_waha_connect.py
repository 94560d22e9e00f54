"""Connecting a WhatsApp account in a real browser: the form, WAHA's QR code, and the page that
refreshes by itself until the phone has scanned it."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import sign_in, snap
from whatsapp.models import Account

pytestmark = pytest.mark.browser


def test_it_connects_a_phone_by_qr_code(page, settings, live_server, owner, workspace, fake_waha):
    settings.SITE_URL = live_server.url
    sign_in(page, "owner", "pw-owner-123")
    page.goto(f"/w/{workspace.pk}/accounts/")
    page.get_by_role("link", name="Connect WhatsApp account").click()
    page.get_by_label("WAHA URL").fill(fake_waha.url)
    page.get_by_label("API key").fill(fake_waha.api_key)
    page.get_by_role("button", name="Start session").click()

    qr = page.locator("#qr")
    expect(qr).to_be_visible()
    # The image itself is served (checking `complete` in the page races its 4-second reload).
    image = page.request.get(qr.get_attribute("src"))
    assert image.ok and image.headers["content-type"].startswith("image/") and image.body()
    snap(page, "waha-qr-code")

    fake_waha.status = "WORKING"  # the phone scanned the code: the page notices by itself
    expect(page.locator("#connected-phone")).to_have_text("+15105566777", timeout=10_000)
    assert Account.objects.get(workspace=workspace).is_connected
