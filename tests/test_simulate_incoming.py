import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from whatsapp.models import Account, Chat, Message


def run(capsys, *args):
    call_command("simulate_incoming", *args)
    return json.loads(capsys.readouterr().out)


def test_it_stores_a_direct_message_and_prints_its_ids(account, capsys):
    args = ["--account", "+1 510 556 6777", "--from", "+14151231234", "--name", "John Doe"]
    out = run(capsys, *args, "--text", "Hello")
    message = Message.objects.get(message_id=out["message_id"])
    assert out == {"message_id": message.message_id, "chat_id": str(message.chat.pk)}
    assert (message.direction, message.text, message.sender_name) == (
        "received",
        "Hello",
        "John Doe",
    )
    assert (message.chat.name, message.chat.phone, message.created_chat) == (
        "John Doe",
        "+14151231234",
        True,
    )
    again = run(capsys, *args, "--text", "Again")
    assert again["chat_id"] == out["chat_id"]


def test_it_stores_a_group_message_in_the_named_group(group_chat, capsys):
    args = ["--account", "+15105566777", "--from", "+14151231234", "--group", "Team"]
    out = run(capsys, *args, "--name", "John", "--text", "Hi all")
    message = Message.objects.get(message_id=out["message_id"])
    assert message.chat == group_chat and out["chat_id"] == group_chat.chat_id
    assert (message.sender_name, message.sender_phone, message.recipient_phone) == ("John", "", "")


def test_it_creates_a_group_that_does_not_exist_yet(account, capsys):
    args = ["--account", "+15105566777", "--from", "+14151231234", "--group", "New group"]
    out = run(capsys, *args, "--text", "First")
    chat = Chat.objects.get(pk=out["chat_id"])
    assert chat.is_group and chat.name == "New group" and chat.jid.endswith("@g.us")


@pytest.mark.parametrize(
    "args, error",
    [
        (["--account", "+15105566000"], "No WhatsApp account with the phone +15105566000"),
        (["--account", "not-a-phone"], "is not an international phone number"),
        (["--account", "+15105566777", "--from", "12"], "is not an international phone number"),
        (["--account", "+15105566777", "--text", " "], "Give --text, --file or both"),
        (["--account", "+15105566777", "--workspace", "Nope"], "No workspace named"),
    ],
)
def test_it_reports_bad_arguments_in_one_line(account, args, error):
    defaults = {"--from": "+14151231234", "--text": "hi"}
    given = dict(zip(args[::2], args[1::2], strict=True))
    argv = [x for key, value in {**defaults, **given}.items() for x in (key, value)]
    with pytest.raises(CommandError, match=re.escape(error)) as caught:
        call_command("simulate_incoming", *argv)
    assert "\n" not in str(caught.value)
    assert not Message.objects.exists()


def test_it_refuses_accounts_that_are_not_simulated(account, settings):
    settings.WHATSAPP_TRANSPORTS = {"other": "whatsapp.transports.Transport"}
    Account.objects.filter(pk=account.pk).update(transport="other")
    with pytest.raises(CommandError, match="not the simulator"):
        call_command(
            "simulate_incoming", "--account", account.phone, "--from", "+14151231234", "--text", "x"
        )
    Account.objects.filter(pk=account.pk).update(transport="waha")
    with pytest.raises(CommandError, match="Unknown transport 'waha'"):
        call_command(
            "simulate_incoming", "--account", account.phone, "--from", "+14151231234", "--text", "x"
        )


def test_a_bad_argument_from_the_shell_is_one_line_and_exit_1(tmp_path):
    # The real command line: CommandError takes Django's run_from_argv path there. The
    # arguments are checked before the (here empty) database is used.
    env = {
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "PATH": "/usr/bin:/bin",
    }
    argv = ["--account", "+15105566777", "--from", "not a phone", "--text", "hi"]
    done = subprocess.run(
        [sys.executable, "manage.py", "simulate_incoming", *argv],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("CommandError: 'not a phone' is not an international phone")
