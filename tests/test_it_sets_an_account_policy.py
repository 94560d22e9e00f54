"""SPEC G1: an account's policy, from `manage.py account_policy` (one line of JSON) and the admin;
the defaults keep the seed's behaviour."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from whatsapp.models import Account


def policy(*args):
    out = StringIO()
    call_command("account_policy", *args, stdout=out)
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    return json.loads(lines[0])


def test_it_defaults_to_the_seeds_behaviour(account):
    shown = policy(account.phone)
    assert shown == {
        "account": "+15105566777",
        "new_contacts_per_day": None,
        "new_contacts_left_today": None,
        "quiet_hours": None,
        "timezone": "UTC",
        "check_numbers": False,
        "paused": False,
        "paused_scope": None,
        "paused_until": None,
        "pause_reason": None,
    }


def test_it_sets_and_clears_each_knob(account):
    shown = policy(
        account.phone,
        "--new-contacts-per-day", "20",
        "--quiet-hours", "21:00-08:00",
        "--timezone", "Europe/Warsaw",
        "--check-numbers", "on",
    )  # fmt: skip
    assert shown["new_contacts_per_day"] == 20
    assert shown["new_contacts_left_today"] == 20
    assert shown["quiet_hours"] == "21:00-08:00"
    assert shown["timezone"] == "Europe/Warsaw"
    assert shown["check_numbers"] is True
    account.refresh_from_db()
    assert account.quiet_from.hour == 21 and account.quiet_to.hour == 8
    shown = policy(account.phone, "--new-contacts-per-day", "none", "--quiet-hours", "none")
    assert shown["new_contacts_per_day"] is None and shown["quiet_hours"] is None
    assert shown["timezone"] == "Europe/Warsaw"  # untouched
    assert policy(account.phone, "--timezone", "none")["timezone"] == "UTC"


def test_it_pauses_and_resumes(account, mailoutbox):
    shown = policy(account.phone, "--pause")
    assert shown["paused"] is True and shown["paused_scope"] == "all"
    assert shown["paused_until"] is None and shown["pause_reason"] == "Paused by the owner."
    assert policy(account.phone, "--pause")["paused"] is True
    assert mailoutbox == []  # the owner knows: only a pause by the governor is emailed
    shown = policy(account.phone, "--resume")
    assert shown["paused"] is False and shown["paused_scope"] is None


@pytest.mark.parametrize(
    "args, words",
    [
        (["--quiet-hours", "9pm-8am"], "Quiet hours must look like 21:00-08:00"),
        (["--quiet-hours", "08:00-08:00"], "different times"),
        (["--timezone", "Mars/Olympus"], "is not a time zone"),
        (["--new-contacts-per-day", "-3"], "must be a number or none"),
        (["--check-numbers", "maybe"], "invalid choice"),
        (["--pause", "--resume"], "not allowed with argument"),
    ],
)
def test_it_refuses_bad_values_in_one_line(account, args, words):
    with pytest.raises(CommandError) as caught:
        policy(account.phone, *args)
    assert words in str(caught.value)
    assert "\n" not in str(caught.value)
    assert Account.objects.get(pk=account.pk).quiet_from is None


def test_it_names_a_missing_account(db):
    with pytest.raises(CommandError, match=r"No WhatsApp account \+14155550199"):
        policy("+14155550199")


def test_it_edits_the_policy_in_the_admin(admin_client, account):
    url = f"/admin/whatsapp/account/{account.pk}/change/"
    page = admin_client.get(url)
    assert b"new_contacts_per_day" in page.content and b"quiet_from" in page.content
    form = {
        "workspace": account.workspace_id,
        "phone": account.phone,
        "connected_by": account.connected_by_id,
        "transport": "simulator",
        "transport_settings": "{}",
        "new_contacts_per_day": "15",
        "quiet_from": "22:00",
        "quiet_to": "07:30",
        "time_zone": "Asia/Manila",
        "check_numbers": "on",
    }
    response = admin_client.post(url, form)
    assert response.status_code == 302, response.content[:2000]
    account.refresh_from_db()
    assert account.new_contacts_per_day == 15 and account.time_zone == "Asia/Manila"
    assert account.check_numbers is True
    form["time_zone"] = "Nowhere/City"
    assert b"is not a time zone" in admin_client.post(url, form).content


def test_it_pauses_from_the_admin(admin_client, account):
    admin_client.post(
        "/admin/whatsapp/account/",
        {"action": "pause_sending", "_selected_action": [account.pk]},
    )
    account.refresh_from_db()
    assert account.paused == "all" and account.paused_until is None
    admin_client.post(
        "/admin/whatsapp/account/",
        {"action": "resume_sending", "_selected_action": [account.pk]},
    )
    account.refresh_from_db()
    assert account.paused == ""
