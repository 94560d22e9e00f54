"""The owner's everyday pages in a real browser: sign in, chats, a chat, credits, sign out."""

import pytest
from playwright.sync_api import expect

from credits.models import grant
from tests.browser.conftest import sign_in, snap_both
from timelines.models import Workspace
from whatsapp.models import Message
from whatsapp.store import store_message

pytestmark = pytest.mark.browser


def test_it_signs_in_reads_a_chat_and_signs_out(page, owner, workspace, chat, group_chat):
    grant(workspace, 25, reason="Welcome pack")
    Workspace.create_for(owner, "Beta Corp")
    store_message(chat, direction=Message.RECEIVED, origin="contact", text="Hello, is it open?")
    store_message(
        chat,
        direction=Message.SENT,
        origin="inbound_webhook",
        text="Yes, until 6 pm.",
        status=Message.SENT,
    )
    store_message(group_chat, direction=Message.RECEIVED, origin="contact", text="Standup at 10")

    sign_in(page, "owner", "pw-owner-123")
    expect(page.locator(".flash")).to_contain_text("Signed in as Olive Owner.")
    expect(page.locator("h1")).to_have_text("Chats")
    expect(page.locator(".credit-balance")).to_have_text("25")
    expect(page.locator(".account-chip")).to_contain_text("+15105566777 · Connected")

    page.get_by_role("link", name="John Doe").click()
    expect(page.locator("h1")).to_have_text("John Doe")
    expect(page.locator(".msg-sent .msg-status")).to_have_text("Sent")
    expect(page.locator(".msg-received .msg-text")).to_have_text("Hello, is it open?")
    snap_both(page, "chat")

    page.locator(".nav").get_by_role("link", name="Credits").click()
    expect(page.locator("#balance")).to_have_text("25")
    expect(page.locator("table")).to_contain_text("Welcome pack")
    snap_both(page, "credits")

    page.locator(".switcher summary").click()
    page.get_by_role("link", name="Beta Corp").click()
    expect(page.locator(".switcher summary")).to_have_text("Beta Corp")
    page.locator(".nav").get_by_role("link", name="Chats").click()
    expect(page.locator(".empty")).to_contain_text("No chats yet")
    page.goto(f"/w/{workspace.pk}/chats/")

    page.get_by_role("button", name="Sign out").click()
    expect(page.locator(".flash")).to_contain_text("You have been signed out.")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    sign_in(page, "owner", "pw-owner-123")
