"""The governor on the accounts page, in a real browser (SPEC G1, G3): the owner sets the
policy (or takes the recommended values), pauses and resumes; a paused account shows a banner
with its reason and end."""

from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import sign_in
from tests.browser.layout import overflowing
from whatsapp.governor import pauses
from whatsapp.models import Account

pytestmark = pytest.mark.browser


def test_the_owner_sets_the_policy_and_takes_the_recommended_values(page, account, workspace):
    sign_in(page, "owner", "pw-owner-123")
    page.goto(f"/w/{workspace.pk}/accounts/")
    policy = page.locator(f"#policy-{account.pk}")
    expect(policy).to_contain_text("Recommended for a new number: at most 20 new contacts a day")
    policy.get_by_label("New contacts per day").fill("12")
    policy.locator("input[name$=quiet_from]").fill("22:00")
    policy.locator("input[name$=quiet_to]").fill("07:00")
    policy.get_by_label("Time zone").fill("Europe/Warsaw")
    policy.get_by_role("button", name="Save policy").click()
    expect(page.locator(".flash")).to_contain_text("sending policy saved")
    account.refresh_from_db()
    assert (account.new_contacts_per_day, account.time_zone) == (12, "Europe/Warsaw")
    assert account.quiet_from.hour == 22 and account.quiet_to.hour == 7

    policy.get_by_label("Time zone").fill("Mars/Olympus")
    policy.get_by_role("button", name="Save policy").click()
    expect(page.locator(".flash")).to_contain_text("is not a time zone")

    page.locator(f"#policy-{account.pk}").get_by_role(
        "button", name="Use the recommended values"
    ).click()
    expect(page.locator(".flash")).to_contain_text("recommended values are set")
    account.refresh_from_db()
    assert account.new_contacts_per_day == 20 and account.check_numbers is True
    assert overflowing(page) == []


def test_a_paused_account_shows_a_banner_and_resumes(page, account, workspace):
    until = datetime(2030, 1, 2, 3, 4, tzinfo=UTC)
    reason = "WhatsApp's message capping used up this account's quota (error 475 / CAPPED)."
    pauses.pause(account.pk, "all", until, reason)
    sign_in(page, "owner", "pw-owner-123")
    page.goto(f"/w/{workspace.pk}/accounts/")
    banner = page.locator(f"#paused-{account.pk}")
    expect(banner).to_contain_text("Sending is paused on +15105566777 until 2030-01-02 03:04 UTC")
    expect(banner).to_contain_text("error 475")
    assert overflowing(page) == []
    banner.get_by_role("button", name="Resume sending").click()  # the dialog is accepted
    expect(page.locator(".flash")).to_contain_text("sending resumed")
    expect(page.locator(".paused-banner")).to_have_count(0)
    assert Account.objects.get(pk=account.pk).paused == ""

    page.locator(f"#policy-{account.pk}").get_by_role("button", name="Pause sending").click()
    expect(page.locator(f"#paused-{account.pk}")).to_contain_text("until resumed")


def test_a_member_sees_the_policy_but_cannot_change_it(page, account, workspace, member):
    sign_in(page, "member", "pw-member-123")
    page.goto(f"/w/{workspace.pk}/accounts/")
    policy = page.locator(f"#policy-{account.pk}")
    expect(policy.get_by_label("New contacts per day")).to_be_disabled()
    expect(policy.get_by_role("button", name="Save policy")).to_have_count(0)
