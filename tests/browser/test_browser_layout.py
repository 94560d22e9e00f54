"""The pages a newcomer found cramped, on a 1280-pixel laptop and a 390-pixel phone: the Webhooks
v2 list and an endpoint's page, the tab bar, the credits page. Nothing runs out of its box or off
the screen, values are not broken over lines, and every tab can be reached."""

import pytest
from playwright.sync_api import expect

from credits.models import grant, refund, reserve
from tests.browser.conftest import LAPTOP, PHONE, sign_in, snap
from tests.browser.layout import box, broken_over_lines, overflowing
from tests.outbound_helpers import closed_port_url, switch_off_over_the_api
from webhooks.endpoints.models import ApiToken, Endpoint
from webhooks.outbound import dispatch
from webhooks.outbound.targets import MAX_CONSECUTIVE_FAILURES
from whatsapp.models import Message
from whatsapp.store import store_message

pytestmark = pytest.mark.browser

SIZES = [("laptop", LAPTOP), ("phone", PHONE)]
LONG_URL = "https://hooks.example-crm-integration.com/api/v2/workspaces/acme-corporation/webhooks/whatsapp-messages"


@pytest.fixture
def endpoints(workspace, owner, account, chat, receiver, client):
    """Three webhooks as a busy workspace has them: one delivering, one at a long URL limited to
    an account, and one dead receiver switched off after errors."""
    working = Endpoint.create(workspace, url=receiver.url, event_type="message:new")
    filtered = Endpoint.create(
        workspace, url=LONG_URL, event_type="whatsapp_account:disconnected", account=account
    )
    dead = Endpoint.create(workspace, url=closed_port_url(), event_type="message:received:new")
    store_message(chat, direction=Message.RECEIVED, origin="contact", text="Hello")
    dispatch.deliver_due()
    dead.count_outcomes([False] * (MAX_CONSECUTIVE_FAILURES + 1))
    # Switched off over the API: the page says so, not "by the owner".
    token = ApiToken.issue(workspace, "CRM sync", owner)[1]
    switch_off_over_the_api(client, filtered, token)
    return working, filtered, dead


def fits(page, name, size):
    page.set_viewport_size(size)
    snap(page, name, "laptop" if size == LAPTOP else "phone")
    found = overflowing(page)
    assert not found, "\n".join(found)


def fits_both(page, name):
    for _, size in SIZES:
        fits(page, name, size)


def test_it_lists_webhooks_v2_on_one_line_each_without_buttons(page, endpoints, workspace):
    working, filtered, dead = endpoints
    sign_in(page, "owner", "pw-owner-123")
    page.goto(f"/w/{workspace.pk}/integrations/webhooks/")
    for label, size in SIZES:
        fits(page, "webhooks-v2-list", size)
        rows = page.locator("#endpoints tbody tr")
        expect(rows).to_have_count(3)
        assert rows.locator("button, form").count() == 0  # actions live on each webhook's page
        assert "▶" not in page.locator("main").inner_text()
        assert broken_over_lines(page, "#endpoints code, #endpoints time, #endpoints .badge") == []
        if label == "laptop":
            # One line per value: the long URL is cut with "…", not wrapped.
            url = box(page, f"#endpoint-{filtered.pk} td[data-label=URL] span")
            event = box(page, f"#endpoint-{filtered.pk} code")
            assert url["height"] <= event["height"] * 1.6
    banner = page.locator(f"#auto-disabled-{dead.pk}")
    expect(banner).to_contain_text(f"Webhook #{dead.pk} switched off automatically on")
    expect(banner).to_contain_text("Last error:")
    expect(page.get_by_role("link", name="API reference")).to_have_attribute("href", "/api/docs/")


def test_it_gives_each_webhook_a_page_with_its_settings_secret_log_and_replay(
    page, endpoints, workspace
):
    working, filtered, dead = endpoints
    sign_in(page, "owner", "pw-owner-123")
    page.goto(f"/w/{workspace.pk}/integrations/webhooks/")
    page.locator(f"#endpoint-{working.pk} a").click()
    expect(page.locator("h1")).to_contain_text(f"Webhook #{working.pk}")
    expect(page.locator(".last-response")).to_have_text("200")
    page.get_by_text("Reveal secret").click()
    secret = page.locator("#signing-secret")
    expect(secret).to_have_value(working.secret)
    for label, size in SIZES:
        fits(page, "webhooks-v2-detail", size)
        # The whole secret is readable in its box (it was 12 characters wide).
        assert secret.evaluate("el => el.scrollWidth <= el.clientWidth + 1") or label == "phone"
        assert box(page, "#signing-secret")["width"] >= (300 if label == "laptop" else 200)
    expect(page.get_by_label("Replay since (UTC)")).to_have_attribute("type", "datetime-local")
    expect(page.locator("#replay .help")).to_contain_text("UTC")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download log (JSON)").click()
    assert download.value.suggested_filename == f"webhook-{working.pk}-log.json"

    # The same switch-off banner as the v1 page, and who switched the other one off.
    page.goto(f"/w/{workspace.pk}/integrations/webhooks/{dead.pk}/")
    expect(page.locator("#auto-disabled")).to_contain_text("Switched off automatically on")
    expect(page.locator("#endpoint-state")).to_have_text("Off")
    fits_both(page, "webhooks-v2-switched-off")
    page.goto(f"/w/{workspace.pk}/integrations/webhooks/{filtered.pk}/")
    expect(page.locator("#switched-off-by")).to_contain_text(
        "Switched off over the API with the token “CRM sync”."
    )
    fits_both(page, "webhooks-v2-off-by-api")


def test_it_shows_every_tab_and_the_owner_on_a_phone(page, workspace, account):
    sign_in(page, "owner", "pw-owner-123")
    page.set_viewport_size(PHONE)
    page.goto(f"/w/{workspace.pk}/accounts/")
    tabs = page.locator(".nav a")
    expect(tabs).to_have_count(7)
    for index in range(7):
        tab = box(page, f".nav a >> nth={index}")
        assert 0 <= tab["x"] and tab["x"] + tab["width"] <= PHONE["width"], index
    expect(page.locator(".nav a[aria-current=page]")).to_have_text("Accounts")
    expect(page.locator(".user-name")).to_be_visible()
    expect(page.locator(".user-name")).to_have_text("Olive Owner")
    page.get_by_role("link", name="API tokens").click()
    expect(page.locator("h1")).to_have_text("API tokens")
    fits_both(page, "tab-bar")


def test_it_fits_the_credits_page_and_says_how_to_get_more(page, workspace):
    grant(workspace, 100, reason="Welcome pack")
    grant(workspace, -90, reason="Taken back after the trial ended, as agreed with the customer")
    reserve(workspace, 2, "wa_backend:3EB09FCC85FE99662E46AB")
    refund(
        workspace,
        "wa_backend:3EB09FCC85FE99662E46AB",
        reason="The attachment could not be downloaded: the server answered 404 Not Found",
    )
    grant(workspace, -10, reason="Balance cleared")
    sign_in(page, "owner", "pw-owner-123")
    page.goto(f"/w/{workspace.pk}/credits/")
    expect(page.locator("#balance")).to_have_text("0")
    expect(page.locator("#no-credits")).to_contain_text("ask them for more")
    removal = page.locator("tbody tr", has_text="Taken back")
    expect(removal.locator("td[data-label=Kind]")).to_have_text("Removal")
    expect(removal.locator("td[data-label=Amount]")).to_have_text("-90")
    for label, size in SIZES:
        fits(page, "credits", size)
        reason = page.locator("tbody tr", has_text="could not be downloaded")
        cut = reason.locator("td[data-label=Reason] span")
        line = box(page, "tbody tr td[data-label=Amount]")["height"]
        if label == "laptop":
            # Cut with an ellipsis on one line (the cell's title has it whole), not mid-word.
            assert cut.evaluate("el => getComputedStyle(el).textOverflow") == "ellipsis"
            assert cut.bounding_box()["height"] <= line * 1.2
        else:  # a line of its own: the whole reason, wrapped between words
            assert cut.evaluate("el => el.scrollWidth <= el.clientWidth")
            assert cut.bounding_box()["height"] > line * 1.5
        ref = reason.locator("td[data-label=Message] span")
        assert ref.evaluate("el => el.getClientRects().length") == 1
