import json
import shlex
from urllib.parse import urlsplit

from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import call_command

from credits.models import Balance, LedgerEntry, grant
from tests.inbound_helpers import fixture_body
from timelines.models import Workspace
from whatsapp.models import Account, Chat

EXAMPLE_1 = fixture_body("example_1.json")


def snapshot():
    """Every model's row count, and the rows the demo could touch a second time."""
    counts = {model._meta.label: model.objects.count() for model in apps.get_models()}
    rows = [
        list(Balance.objects.values()),
        list(LedgerEntry.objects.values()),
        list(Account.objects.values()),
        list(Chat.objects.values()),
        list(get_user_model().objects.values()),
    ]
    return counts, rows


def test_it_creates_the_demo_data(db, monkeypatch, client, capsys):
    monkeypatch.setenv("DEMO_PASSWORD", "demo-pass-123")
    call_command("demo")
    out = capsys.readouterr().out
    workspace = Workspace.objects.get(name="Demo")
    assert workspace.owner.email == "owner@example.com" and workspace.is_member(workspace.owner)
    account = Account.objects.get(workspace=workspace)
    assert (account.phone, account.transport, account.is_connected) == (
        "+15105566777",
        "simulator",
        True,
    )
    assert account.connected_by == workspace.owner
    direct = Chat.objects.get(account=account, phone="+14151231234")
    group = Chat.objects.get(account=account, jid="120363000000000000@g.us")
    assert (direct.name, group.name, group.is_group) == ("John Doe", "Team", True)
    assert Balance.of(workspace) == 100
    assert "http://testserver/accounts/login/" in out and "DEMO_PASSWORD" in out
    assert client.login(username="owner", password="demo-pass-123")


def test_running_it_twice_changes_nothing(db, capsys):
    call_command("demo")
    first_out = capsys.readouterr().out
    before = snapshot()
    call_command("demo")
    second_out = capsys.readouterr().out
    assert snapshot() == before
    # The generated password is shown once, when the user is created.
    password = first_out.split("with password ")[1].split(".\n")[0]
    assert password and password not in second_out


def test_it_does_not_top_up_spent_demo_credits(db):
    call_command("demo")
    workspace = Workspace.objects.get(name="Demo")
    grant(workspace, -100, reason="spent")
    call_command("demo")
    assert Balance.of(workspace) == 0


def test_it_prints_a_curl_line_that_sends_through_the_inbound_webhook(db, capsys, client):
    call_command("demo")
    line = next(x for x in capsys.readouterr().out.splitlines() if "curl " in x)
    args = shlex.split(line.split(": ", 1)[1])
    url, body = args[args.index("-X") + 2], args[args.index("-d") + 1]
    assert json.loads(body) == json.loads(EXAMPLE_1)
    response = client.post(urlsplit(url).path, body, content_type="application/json")
    assert response.status_code == 200 and response.json()["status"] == "success"
