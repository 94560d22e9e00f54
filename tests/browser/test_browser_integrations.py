"""The integration pages in a real browser, as a new owner would use them: the inbound URL, its
toggle and attempts, the chat page, the outbound URL with its deliveries, both logs."""

import json

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from credits.models import grant
from tests.browser.conftest import sign_in, snap_both
from webhooks.outbound import dispatch
from webhooks.outbound.models import SWITCHED_OFF_BY_ERRORS, OutboundWebhook
from whatsapp import sender

pytestmark = pytest.mark.browser


@pytest.fixture
def site(settings, live_server):
    """Links the app writes (the inbound URL) point at the live server."""
    settings.SITE_URL = live_server.url
    return live_server.url


def _send(page, url, text, phone="+14151231234"):
    body = {"action": "send", "phone": phone, "text": text}
    return page.request.post(
        url, data=json.dumps(body), headers={"Content-Type": "application/json"}
    )


def _download(page, link_name):
    with page.expect_download() as info:
        page.get_by_role("link", name=link_name).click()
    download = info.value
    return download.suggested_filename, json.loads(open(download.path()).read())


def test_it_drives_the_inbound_webhook(page, site, owner, workspace, account):
    grant(workspace, 10, reason="Trial")
    sign_in(page, "owner", "pw-owner-123")
    page.locator(".nav").get_by_role("link", name="Inbound webhook").click()
    expect(page.locator("h1")).to_have_text("Inbound webhook")
    old_url = page.locator("#inbound-url").input_value()
    assert old_url.startswith(site + "/webhooks/inbound/")
    assert _send(page, old_url, "first").status == 200

    # Generate new URL (the confirm dialog is accepted): the old one is refused at once.
    page.get_by_role("button", name="Generate new URL").click()
    expect(page.locator(".flash")).to_contain_text("The old URL no longer works")
    new_url = page.locator("#inbound-url").input_value()
    assert new_url != old_url
    refused = _send(page, old_url, "to the old URL")
    assert refused.status == 404 and refused.json()["message"] == "Webhook not found"
    expect(page.locator("#curl-example")).to_contain_text(new_url)

    # Switch it off: refused with 403; on again: accepted.
    page.get_by_label("Webhook enabled").uncheck()
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".flash")).to_contain_text("Inbound webhook disabled")
    expect(page.locator("#inbound-state")).to_have_text("Disabled")
    assert _send(page, new_url, "while off").status == 403
    page.get_by_label("Webhook enabled").check()
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#inbound-state")).to_have_text("Enabled")
    accepted = _send(page, new_url, "Your order has shipped")
    assert accepted.status == 200
    message_id = accepted.json()["data"]["message_id"]
    # A number the simulator fails ("not on WhatsApp"): its credit comes back.
    assert _send(page, new_url, "Hello?", phone="+14155550000").status == 200
    sender.drain_now()  # the paced sender, inline and on a fake clock

    # The attempts, newest first, each with its message's status.
    page.reload()
    rows = page.locator("#attempts tbody tr")
    expect(rows).to_have_count(4)  # the old URL's 404 belongs to no workspace
    expect(rows.nth(0)).to_contain_text("+14155550000")
    expect(rows.nth(0)).to_contain_text("Failed")
    expect(rows.nth(0)).to_contain_text("not on WhatsApp")
    expect(rows.nth(1)).to_contain_text(message_id)
    expect(rows.nth(1)).to_contain_text("Sent")
    expect(rows.nth(2)).to_contain_text("Webhook is disabled")
    expect(rows.nth(2)).to_contain_text("403")
    expect(page.locator(".credit-balance")).to_have_text("8")  # 10 - 3 sent + 1 refunded
    name, log = _download(page, "Download log")
    assert name.startswith("inbound-webhook-log-") and len(log["attempts"]) == 4
    snap_both(page, "inbound-page")

    page.get_by_role("link", name=message_id).click()
    expect(page.locator("h1")).to_have_text("+14151231234")
    message = page.locator(f"article[data-message-id='{message_id}']")
    expect(message).to_have_class("msg msg-sent is-around")
    expect(message.locator(".msg-text")).to_have_text("Your order has shipped")
    expect(message.locator(".msg-status")).to_have_text("Sent")


def test_it_drives_the_outbound_webhook(page, site, owner, workspace, account, receiver):
    sign_in(page, "owner", "pw-owner-123")
    page.locator(".nav").get_by_role("link", name="Outbound webhook").click()
    expect(page.locator("h1")).to_have_text("Outbound webhook")
    page.get_by_label("Webhook URL").fill(receiver.url)
    page.get_by_label("Aggregation granularity").select_option(label="Don't aggregate")
    page.get_by_label("Webhook enabled").check()
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".flash")).to_contain_text("Outbound webhook enabled")

    # The secret is hidden until revealed; rotating it changes it.
    secret = page.locator("#signing-secret")
    expect(secret).to_be_hidden()
    page.get_by_text("Reveal secret").click()
    expect(secret).to_be_visible()
    old_secret = secret.input_value()
    page.get_by_role("button", name="Rotate").click()
    expect(page.locator(".flash")).to_contain_text("New signing secret generated")
    assert page.locator("#signing-secret").input_value() != old_secret

    # A contact writes; the delivery reaches the receiver and shows in the activity list.
    account.get_transport().receive(from_phone="+14155550123", text="Hi!", name="Ada Lovelace")
    dispatch.deliver_due(budget=5)
    assert receiver.bodies()[0]["message"]["text"] == "Hi!"
    page.reload()
    rows = page.locator("#deliveries tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.nth(0)).to_contain_text("200")
    expect(rows.nth(0)).to_contain_text("Ada Lovelace")

    page.get_by_role("button", name="Redeliver").click()
    expect(page.locator(".flash")).to_contain_text("Redelivery queued")
    dispatch.deliver_due(budget=5)
    assert len(receiver.requests) == 2
    page.reload()
    expect(rows).to_have_count(2)
    name, log = _download(page, "Download log")
    assert name.startswith("outbound-webhook-log-") and len(log["attempts"]) == 2
    assert log["attempts"][0]["request"]["url"] == receiver.url

    # Switched off by errors (O6): the page says why and when, until the owner enables it again.
    OutboundWebhook.objects.filter(workspace=workspace).update(
        enabled=False, disabled_at=timezone.now(), disabled_reason=SWITCHED_OFF_BY_ERRORS
    )
    page.reload()
    expect(page.locator("#auto-disabled")).to_contain_text("Switched off automatically on")
    expect(page.locator("#auto-disabled")).to_contain_text(SWITCHED_OFF_BY_ERRORS)
