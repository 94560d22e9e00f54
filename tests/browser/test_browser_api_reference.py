"""The API reference is a page a person can read and try, served by the app itself (no CDN):
Swagger UI over the same schema as /api/schema/, inbound endpoint and Webhooks v2 API alike."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import sign_in

pytestmark = pytest.mark.browser


def test_it_shows_both_apis_from_the_inbound_page(page, owner, workspace, live_server):
    sign_in(page, "owner", "pw-owner-123")
    page.goto(f"/w/{workspace.pk}/integrations/inbound/")
    outside = []
    page.on("request", lambda r: r.url.startswith(live_server.url) or outside.append(r.url))
    page.locator("#api-docs-link").click()
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Timelines API")
    rotate = "/integrations/api/webhooks/{id}/rotate-secret"
    expect(page.get_by_role("link", name=rotate, exact=True)).to_be_visible()
    expect(page.locator(".opblock-tag", has_text="Webhooks v2")).to_be_visible()
    inbound = page.locator(".opblock-summary-path", has_text="/webhooks/inbound/")
    expect(inbound).not_to_have_count(0)
    assert outside == []  # everything came from the app
