"""C2: admins grant credits from the command line and in the Django admin."""

import json
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from credits.models import Balance, LedgerEntry


def grant_credits(*args):
    out = StringIO()
    call_command("grant_credits", *args, stdout=out)
    return json.loads(out.getvalue())


def test_it_grants_by_workspace_name_or_id_and_prints_the_balance(workspace):
    assert grant_credits("Acme", "10") == {"balance": 10}
    assert grant_credits(str(workspace.pk), "5", "--reason", "bonus") == {"balance": 15}
    assert LedgerEntry.objects.filter(reason="bonus", amount=5).exists()


def test_it_removes_credits_with_a_negative_amount_but_never_below_zero(workspace):
    grant_credits("Acme", "3")
    assert grant_credits("Acme", "-2") == {"balance": 1}
    with pytest.raises(CommandError, match="balance is only 1"):
        grant_credits("Acme", "-2")
    assert Balance.of(workspace) == LedgerEntry.total(workspace) == 1


def test_it_names_an_unknown_workspace_in_one_line(db):
    with pytest.raises(CommandError, match="No workspace named or numbered 'Nope'"):
        grant_credits("Nope", "1")


@pytest.fixture
def admin_client(client, db):
    admin = get_user_model().objects.create_superuser("admin", "admin@example.com", "pw-admin-1")
    client.force_login(admin)
    return client


def test_it_grants_from_the_admin_form_and_action(admin_client, workspace):
    page = admin_client.get("/admin/credits/balance/add/", follow=True)
    assert page.status_code == 200 and b"Grant credits" in page.content
    admin_client.post(
        "/admin/credits/balance/grant/",
        {"workspaces": [workspace.pk], "amount": 7, "reason": "trial"},
    )
    assert Balance.of(workspace) == 7
    response = admin_client.post(
        "/admin/credits/balance/",
        {"action": "grant_credits", "_selected_action": [Balance.objects.get().pk]},
    )
    assert response.status_code == 302 and f"workspaces={workspace.pk}" in response["Location"]
    page = admin_client.get(response["Location"])
    assert b"Acme" in page.content


def test_it_shows_the_ledger_read_only(admin_client, workspace):
    grant_credits("Acme", "4")
    entry = LedgerEntry.objects.get()
    assert admin_client.get("/admin/credits/ledgerentry/").status_code == 200
    page = admin_client.get(f"/admin/credits/ledgerentry/{entry.pk}/change/")
    assert page.status_code == 200 and b"Save" not in page.content
    assert admin_client.get("/admin/credits/ledgerentry/add/").status_code == 403
