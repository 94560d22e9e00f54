import json
from pathlib import Path
from urllib.parse import urlsplit

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command

from credits.models import Balance, LedgerEntry, grant
from tests.inbound_helpers import fixture_body
from timelines.models import Workspace
from whatsapp.models import Account, Chat, Message

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


def test_it_creates_the_demo_data(db, settings, client, capsys):
    settings.DEMO_PASSWORD = "demo-pass-123"
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
    assert "open http://testserver/ and sign in as owner, password demo-pass-123" in out
    assert "Emails:    printed in this console" in out or "kept in memory" in out
    assert len(out.strip().splitlines()) <= 6  # a banner, not a page
    assert client.login(username="owner", password="demo-pass-123")


def test_it_seeds_a_conversation_with_files_and_a_failed_send(db, client):
    call_command("demo")
    direct = Chat.objects.get(phone="+14151231234")
    messages = list(direct.messages.select_related("media"))
    assert [m.direction for m in messages] == ["received"] * 3 + ["sent"]
    files = {m.attachment_name: m for m in messages if m.has_attachment}
    assert set(files) == {"receipt.png", "invoice.pdf"}
    assert all(m.media.state == "stored" and m.attachment_size for m in files.values())
    failed = Message.objects.get(status=Message.FAILED)
    assert "not on WhatsApp" in failed.error
    client.login(username="owner", password=Path(settings.DEMO_PASSWORD_FILE).read_text().strip())
    page = client.get(f"/chat/{direct.pk}/messages/").content.decode()
    assert 'class="msg-thumb"' in page and "invoice.pdf</a>" in page


def test_running_it_twice_changes_nothing_and_shows_the_password_again(db, capsys, settings):
    call_command("demo")
    first_out = capsys.readouterr().out
    before = snapshot()
    call_command("demo")
    second_out = capsys.readouterr().out
    assert snapshot() == before
    password = first_out.split("password ")[1].split()[0]
    assert f"password {password}" in second_out  # kept in the git-ignored file
    assert Path(settings.DEMO_PASSWORD_FILE).read_text().strip() == password
    assert get_user_model().objects.get(username="owner").check_password(password)


def test_demo_password_applies_to_an_existing_owner(db, settings, client, capsys):
    call_command("demo")
    settings.DEMO_PASSWORD = "chosen-later-456"
    call_command("demo")
    assert "password chosen-later-456" in capsys.readouterr().out
    assert client.login(username="owner", password="chosen-later-456")


def test_it_resets_a_lost_password(db, capsys, client):
    call_command("demo")
    owner = get_user_model().objects.get(username="owner")
    owner.set_password("changed-in-the-admin")
    owner.save()
    call_command("demo")
    assert "changed since; set a new one: manage.py demo --reset-password" in (
        capsys.readouterr().out
    )
    call_command("demo", "--reset-password")
    password = capsys.readouterr().out.split("password ")[1].split()[0]
    assert client.login(username="owner", password=password)


def test_it_does_not_top_up_spent_demo_credits(db):
    call_command("demo")
    workspace = Workspace.objects.get(name="Demo")
    grant(workspace, -100, reason="spent")
    call_command("demo")
    assert Balance.of(workspace) == 0


def test_the_inbound_url_it_makes_sends_the_seeds_example_1(db, capsys, client):
    call_command("demo")
    call_command("inbound_webhook", "Demo")
    url = json.loads(capsys.readouterr().out.splitlines()[-1])["url"]
    response = client.post(urlsplit(url).path, EXAMPLE_1, content_type="application/json")
    assert response.status_code == 200 and response.json()["status"] == "success"
