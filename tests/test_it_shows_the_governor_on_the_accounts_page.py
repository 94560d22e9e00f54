"""The accounts page (SPEC G1, G3), without a browser: the owner's policy form and its refusals,
the recommended values, pause and resume, the paused banner; members may look, not change."""

from datetime import UTC, datetime

import pytest

from whatsapp.governor import pauses
from whatsapp.models import Account

pytestmark = pytest.mark.django_db


def page_of(client, workspace):
    return client.get(f"/w/{workspace.pk}/accounts/").content.decode()


def post_policy(client, workspace, account, **fields):
    data = {f"policy-{account.pk}-{name}": value for name, value in fields.items()}
    return client.post(f"/w/{workspace.pk}/accounts/{account.pk}/policy/", data, follow=True)


def test_the_owner_saves_a_policy(client, owner, workspace, account):
    client.force_login(owner)
    recommended = "Recommended for a new number: at most 20 new contacts a day"
    page = page_of(client, workspace)
    assert recommended in page and "<title>WhatsApp accounts · Acme · Timelines</title>" in page
    page = post_policy(
        client, workspace, account, new_contacts_per_day="12", quiet_from="22:00",
        quiet_to="07:00", time_zone="Europe/Warsaw", check_numbers="on",
    ).content.decode()  # fmt: skip
    assert "sending policy saved" in page
    account.refresh_from_db()
    assert (account.new_contacts_per_day, account.time_zone, account.check_numbers) == (
        12,
        "Europe/Warsaw",
        True,
    )
    assert "New contacts left today: 12" in page


@pytest.mark.parametrize(
    "fields, words",
    [
        ({"time_zone": "Mars/Olympus"}, "is not a time zone"),
        ({"time_zone": "UTC", "quiet_from": "22:00"}, "both ends of the quiet hours"),
        ({"time_zone": "UTC", "new_contacts_per_day": "-1"}, "greater than or equal to 0"),
        ({"time_zone": "UTC", "quiet_from": "25:99", "quiet_to": "01:00"}, "valid time"),
    ],
)
def test_it_refuses_bad_values_with_words(client, owner, workspace, account, fields, words):
    client.force_login(owner)
    page = post_policy(client, workspace, account, **fields).content.decode()
    assert "not saved" in page and words in page
    assert Account.objects.get(pk=account.pk).time_zone == "UTC"


def test_the_recommended_values_in_one_click(client, owner, workspace, account):
    client.force_login(owner)
    client.post(f"/w/{workspace.pk}/accounts/{account.pk}/policy/", {"recommended": "1"})
    account.refresh_from_db()
    assert account.new_contacts_per_day == 20 and account.check_numbers
    assert (account.quiet_from.hour, account.quiet_to.hour) == (21, 8)


def test_a_paused_account_has_a_banner_until_resumed(client, owner, workspace, account):
    until = datetime(2030, 1, 2, 3, 4, tzinfo=UTC)
    pauses.pause(account.pk, "new_contacts", until, "WhatsApp restricted new chats (error 463).")
    client.force_login(owner)
    page = page_of(client, workspace)
    assert f'id="paused-{account.pk}"' in page
    assert "Sending is paused on +15105566777 for new contacts" in page
    assert "2030-01-02 03:04 UTC" in page and "error 463" in page
    client.post(f"/w/{workspace.pk}/accounts/{account.pk}/resume/")
    assert "paused-banner" not in page_of(client, workspace)
    client.post(f"/w/{workspace.pk}/accounts/{account.pk}/pause/")
    assert "until resumed" in page_of(client, workspace)


def test_a_member_cannot_change_the_policy(client, member, workspace, account):
    client.force_login(member)
    page = page_of(client, workspace)
    assert f'id="policy-{account.pk}"' in page and "Save policy" not in page
    response = post_policy(client, workspace, account, new_contacts_per_day="1", time_zone="UTC")
    assert response.status_code == 404
    client.post(f"/w/{workspace.pk}/accounts/{account.pk}/pause/")
    assert Account.objects.get(pk=account.pk).paused == ""
