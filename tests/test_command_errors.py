"""Every management command built on timelines.commands reports a bad argument in one line on
stderr with exit status 1, never a traceback; data goes to stdout as JSON."""

import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from timelines.commands import TimelinesCommand
from timelines.models import Workspace
from whatsapp.phones import InvalidPhone

ROOT = Path(__file__).resolve().parent.parent


class Echo(TimelinesCommand):
    def add_arguments(self, parser):
        parser.add_argument("--workspace", required=True)

    def run(self, *, workspace, **options):
        found = self.workspace(workspace)
        return {"id": found.pk, "name": found.name}


class Raises(TimelinesCommand):
    def __init__(self, exc):
        super().__init__()
        self.exc = exc

    def run(self, **options):
        raise self.exc


def call(command, *args):
    parser = command.create_parser("manage.py", "echo")
    options = vars(parser.parse_args(args))
    return command.execute(**options)


def test_it_prints_what_run_returns_as_json(workspace, capsys):
    call(Echo(), "--workspace", "Acme")
    call(Echo(), "--workspace", str(workspace.pk))
    out = capsys.readouterr().out.splitlines()
    assert out == [f'{{"id": {workspace.pk}, "name": "Acme"}}'] * 2


def test_it_names_a_workspace_that_does_not_exist(db):
    with pytest.raises(CommandError, match="No workspace named or numbered 'Nope'"):
        call(Echo(), "--workspace", "Nope")


@pytest.mark.parametrize(
    "exc",
    [
        ValueError("bad\nvalue"),
        Workspace.DoesNotExist("gone"),
        InvalidPhone("'12' is not a phone"),
        ValidationError(["a", "b"]),
    ],
)
def test_it_turns_expected_errors_into_one_line_command_errors(exc):
    with pytest.raises(CommandError) as caught:
        call(Raises(exc))
    assert "\n" not in str(caught.value) and str(caught.value)


def test_it_keeps_the_traceback_of_a_bug():
    with pytest.raises(KeyError):
        call(Raises(KeyError("bug")))


def test_a_missing_option_from_the_shell_is_one_line_and_exit_1():
    # A real process: argparse errors take another path from the command line.
    done = subprocess.run(
        [sys.executable, "manage.py", "simulate_incoming", "--account", "+15105566777"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"DJANGO_SETTINGS_MODULE": "tests.settings", "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0
    assert done.stderr.startswith("CommandError: ") and "--from" in done.stderr
