"""M6 in a real browser: the chat page shows a received photo as a thumbnail (loaded through the
members' file link) and a PDF as a named link with its size; someone outside the workspace gets
nothing from the same links."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import sign_in, snap_both
from tests.media_helpers import png, receive_file

pytestmark = pytest.mark.browser

PDF = b"%PDF-1.4 " + b"x" * 20471


def test_it_shows_a_photo_and_a_pdf_to_members_only(page, owner, outsider, account, tmp_path):
    photo = receive_file(account, tmp_path, "receipt.png", png(320, 240), text="My receipt")
    receive_file(account, tmp_path, "contract.pdf", PDF)
    sign_in(page, "owner", "pw-owner-123")
    page.goto(f"/chat/{photo.chat_id}/messages/")
    thumb = page.get_by_role("img", name="receipt.png")
    expect(thumb).to_be_visible()
    assert thumb.evaluate("img => img.naturalWidth") == 320  # the file itself, served
    box = thumb.bounding_box()
    assert box["width"] <= 256 and box["height"] <= 192  # a thumbnail, not the whole photo
    link = page.get_by_role("link", name="📎 contract.pdf")
    expect(link).to_be_visible()
    expect(page.locator(".msg-attachment", has=link)).to_contain_text("(20.0 KB)")
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == "contract.pdf"
    snap_both(page, "chat-files")
    file_url = link.get_attribute("href")
    page.context.clear_cookies()
    sign_in(page, "outsider", "pw-outsider-123")
    assert page.request.get(file_url).status == 404
    assert page.request.get(file_url + "?view=inline").status == 404
