"""The owner's console in a real browser: reply from the chat page (text, a file, refused for
credits), assign a chat, the failed-message markers, and send an aggregation window now."""

import re

import pytest
from playwright.sync_api import expect

from credits.models import grant
from tests.browser.conftest import sign_in, snap_both
from webhooks.outbound import dispatch
from whatsapp import sender
from whatsapp.models import Chat, Message
from whatsapp.store import store_message

pytestmark = pytest.mark.browser


def test_it_replies_with_text_and_the_status_follows_without_a_reload(page, owner, workspace, chat):
    grant(workspace, 5, reason="test")
    store_message(chat, direction=Message.RECEIVED, origin="contact", text="Is it open today?")
    sign_in(page, "owner", "pw-owner-123")
    page.goto(chat.chat_url.split("testserver")[-1])
    page.get_by_label("Message").fill("Yes, until 6 pm.")
    page.get_by_role("button", name="Send").click()
    mine = page.locator(".msg-sent", has_text="Yes, until 6 pm.")
    expect(mine.locator(".msg-status")).to_have_text("Queued")
    expect(mine.locator(".msg-meta")).to_contain_text("Web UI")
    sender.drain_now()  # the worker's part
    expect(mine.locator(".msg-status")).to_have_text("Sent")  # polled, no reload
    expect(page.locator(".credit-balance")).to_have_text("4")
    snap_both(page, "reply-text")


def test_it_replies_with_an_uploaded_file(page, owner, workspace, chat, tmp_path):
    grant(workspace, 5, reason="test")
    menu = tmp_path / "menu.pdf"
    menu.write_bytes(b"%PDF-1.4 the menu")
    sign_in(page, "owner", "pw-owner-123")
    page.goto(f"/chat/{chat.pk}/messages/")
    attach = page.get_by_text("Attach a file")
    closed = attach.bounding_box()
    attach.click()
    # The button stays where it was (it used to jump below the help text and the Send button).
    assert attach.bounding_box() == closed
    help_text = page.locator(".reply-row .muted").bounding_box()
    assert help_text["y"] > closed["y"] + closed["height"]
    snap_both(page, "reply-attach-open")
    page.get_by_label("Upload (at most 2 MB)").set_input_files(str(menu))
    page.get_by_label("Message").fill("Our menu")
    page.get_by_role("button", name="Send").click()
    mine = page.locator(".msg-sent", has_text="Our menu")
    expect(mine.locator(".msg-attachment")).to_contain_text("menu.pdf")
    sender.drain_now()
    expect(mine.locator(".msg-status")).to_have_text("Sent")
    expect(page.locator(".credit-balance")).to_have_text("3")  # text and a file: 2 credits


def test_it_says_plainly_when_credits_run_out(page, owner, workspace, chat):
    sign_in(page, "owner", "pw-owner-123")
    page.goto(f"/chat/{chat.pk}/messages/")
    page.get_by_label("Message").fill("Anyone there?")
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".reply-refused")).to_contain_text("Not enough message credits")
    expect(page.get_by_label("Message")).to_have_value("Anyone there?")
    # Redirected after the POST: the address is the chat's, so a reload sends nothing again.
    expect(page).to_have_url(re.compile(rf"/chat/{chat.pk}/messages/#reply$"))
    assert not Message.objects.exists()
    snap_both(page, "reply-no-credits")


def test_it_marks_a_failed_message_in_the_chat_and_the_list(page, owner, workspace, account):
    grant(workspace, 5, reason="test")
    bad, _ = Chat.get_or_create_direct(account, "+14155550000", "Nobody Home")
    sign_in(page, "owner", "pw-owner-123")
    page.goto(f"/chat/{bad.pk}/messages/")
    page.get_by_label("Message").fill("Hello?")
    page.get_by_role("button", name="Send").click()
    sender.drain_now()  # the simulator fails numbers ending in 0000
    mine = page.locator(".msg-sent", has_text="Hello?")
    expect(mine.locator(".msg-status")).to_have_text("⚠ Failed")
    expect(mine.locator(".msg-error")).to_contain_text("Not sent:")
    expect(mine).to_have_class("msg msg-sent msg-failed")
    expect(mine.locator(".msg-meta")).not_to_contain_text("Sent")
    snap_both(page, "failed-message")
    page.goto(f"/w/{workspace.pk}/chats/")
    expect(page.locator(".chat-row", has_text="Nobody Home")).to_contain_text("⚠ Not sent: Hello?")
    snap_both(page, "failed-in-list")


def test_it_assigns_a_chat_from_the_page_and_the_list(page, owner, member, workspace, chat):
    sign_in(page, "owner", "pw-owner-123")
    page.goto(f"/chat/{chat.pk}/messages/")
    page.get_by_label("Responsible").select_option(label="member")
    page.get_by_role("button", name="Assign").click()
    expect(page.locator(".flash")).to_contain_text("John Doe is now assigned to member.")
    assert Chat.objects.get(pk=chat.pk).responsible == member
    snap_both(page, "assigned-on-chat")
    page.goto(f"/w/{workspace.pk}/chats/")
    row = page.locator(".chat-row", has_text="John Doe")
    expect(row.locator(".chat-meta")).to_contain_text("member")
    row.get_by_label("Responsible").select_option(label="Nobody")
    row.get_by_role("button", name="Assign").click()
    expect(page.locator(".flash")).to_contain_text("John Doe is now assigned to nobody.")
    expect(page.locator("h1")).to_have_text("Chats")
    assert Chat.objects.get(pk=chat.pk).responsible is None
    snap_both(page, "assign-in-list")


def test_it_sends_an_aggregation_window_now(page, owner, outbound, receiver, chat):
    outbound.configure(granularity=24)
    store_message(chat, direction=Message.RECEIVED, origin="contact", text="Bundle me")
    sign_in(page, "owner", "pw-owner-123")
    page.goto(f"/w/{outbound.workspace_id}/integrations/outbound/")
    expect(page.locator("#window")).to_contain_text("Send this window now")
    page.get_by_role("button", name="Send this window now").click()
    expect(page.locator(".flash")).to_contain_text("Window closed: 1 bundle on the way.")
    dispatch.deliver_due()  # the worker's part
    assert [m["text"] for m in receiver.bodies()[0]["messages"]] == ["Bundle me"]
    page.reload()
    expect(page.locator("table")).to_contain_text("John Doe")
    snap_both(page, "send-window-now")
