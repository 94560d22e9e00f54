"""The credits page: the balance and the latest ledger entries."""

from credits.models import grant, refund, reserve


def test_it_shows_the_balance_and_latest_entries(client, owner, workspace):
    grant(workspace, 10, reason="Welcome pack")
    reserve(workspace, 2, "wa_backend:AAAA")
    refund(workspace, "wa_backend:AAAA")
    client.force_login(owner)
    html = client.get(f"/w/{workspace.pk}/credits/").content.decode()
    assert '<strong id="balance">10</strong>' in html
    assert "Welcome pack" in html and "wa_backend:AAAA" in html
    assert html.index("Refund") < html.index("Reserve") < html.index("Welcome pack")
    assert "+10" in html and "-2" in html and "+2" in html


def test_it_says_when_no_credits_were_granted(client, owner, workspace):
    client.force_login(owner)
    html = client.get(f"/w/{workspace.pk}/credits/").content.decode()
    assert '<strong id="balance">0</strong>' in html
    assert "No credits have been granted" in html
