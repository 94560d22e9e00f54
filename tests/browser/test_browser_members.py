"""What a member and a stranger see in a real browser: read-only integration pages, and 404 for a
workspace that is not theirs."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import sign_in, snap
from timelines.models import Workspace
from webhooks.inbound.models import InboundWebhook

pytestmark = pytest.mark.browser


def test_it_shows_a_member_read_only_pages_and_a_stranger_404(page, workspace, member, outsider):
    webhook = InboundWebhook.for_workspace(workspace)
    elsewhere = Workspace.objects.get(name="Elsewhere")

    page.goto(f"/w/{workspace.pk}/integrations/inbound/")
    expect(page).to_have_url(f"/accounts/login/?next=/w/{workspace.pk}/integrations/inbound/")
    snap(page, "sign-in")
    sign_in(page, "member", "pw-member-123", here=True)
    expect(page.locator("h1")).to_have_text("Inbound webhook")
    expect(page.get_by_text("Only the workspace owner can see the URL.")).to_be_visible()
    assert webhook.token not in page.content()
    expect(page.get_by_role("button", name="Generate new URL")).to_have_count(0)
    expect(page.get_by_label("Webhook enabled")).to_be_disabled()

    page.locator(".nav").get_by_role("link", name="Outbound webhook").click()
    expect(page.get_by_label("Webhook URL")).to_be_disabled()
    expect(page.get_by_role("button", name="Save")).to_have_count(0)
    expect(page.get_by_role("link", name="Download log")).to_have_count(0)

    response = page.goto(f"/w/{elsewhere.pk}/chats/")
    assert response.status == 404
    expect(page.locator("h1")).to_have_text("Page not found")
