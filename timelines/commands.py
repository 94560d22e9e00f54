"""The shared base for Timelines' management commands.

Admins script with these commands, so they all behave alike:

- data is printed as one line of JSON on stdout (`return` it from `run`);
- a workspace is named by its name or its id (`self.workspace(ref)`);
- every bad argument ends the command with ONE line on stderr and exit status 1, never a
  traceback: raise `CommandError`, or let an expected error escape `run` — `ValueError` (which
  covers `InvalidPhone` and `InvalidJid`), `ObjectDoesNotExist` (every model's `DoesNotExist`),
  `MultipleObjectsReturned`, `ValidationError` — and it is turned into one. argparse's own
  errors (a missing required option) get the same treatment.

A command is written like this::

    from timelines.commands import TimelinesCommand

    class Command(TimelinesCommand):
        help = "Grant credits to a workspace."
        user_errors = TimelinesCommand.user_errors + (QuotaExceeded,)  # more expected errors

        def add_arguments(self, parser):
            parser.add_argument("--workspace", required=True, help="name or id")
            parser.add_argument("--amount", required=True, type=int)

        def run(self, *, workspace, amount, **options):
            balance = grant(self.workspace(workspace), amount)
            return {"workspace": workspace, "balance": balance}   # printed as JSON

`run` may also return None and print prose itself with `self.say(...)`.
"""

import json
import logging
from contextlib import contextmanager

from django.core.exceptions import MultipleObjectsReturned, ObjectDoesNotExist, ValidationError
from django.core.management.base import BaseCommand, CommandError

from timelines.models import Workspace


def one_line(text):
    """Collapse whitespace so that an error is always a single line."""
    return " ".join(str(text).split())


def error_text(exc):
    """Words an admin can act on, from an exception raised by the code a command calls."""
    if isinstance(exc, ValidationError):
        return one_line(" ".join(exc.messages))
    return one_line(exc) or exc.__class__.__name__


@contextmanager
def _quiet_task_queue():
    """django-q2 logs every task it enqueues at INFO on stderr ("Enqueued [timelines] 3"): a
    command's output is its JSON and its one-line errors, so only its warnings are let through."""
    logger = logging.getLogger("django-q")
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(level)


class TimelinesCommand(BaseCommand):
    # Errors that mean "the arguments were wrong", reported in one line; anything else is a bug
    # and keeps its traceback.
    user_errors = (ValueError, ObjectDoesNotExist, MultipleObjectsReturned, ValidationError)

    def run(self, **options):
        """Do the work; return data to print as JSON, or None."""
        raise NotImplementedError

    def handle(self, *args, **options):
        try:
            with _quiet_task_queue():
                result = self.run(**options)
        except CommandError as exc:
            raise CommandError(one_line(exc)) from None
        except self.user_errors as exc:
            raise CommandError(error_text(exc)) from None
        if result is not None:
            self.print_json(result)

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.error = lambda message: self._argument_error(parser, message)
        return parser

    def _argument_error(self, parser, message):
        # From the shell argparse would print the usage and exit 2; we keep the promise of one
        # line and exit 1. From call_command (tests), Django raises CommandError as usual.
        if parser.called_from_command_line:
            parser.exit(1, f"CommandError: {one_line(message)}\n")
        raise CommandError(f"Error: {one_line(message)}")

    def print_json(self, data):
        self.stdout.write(json.dumps(data, ensure_ascii=False, default=str))

    def say(self, text):
        self.stdout.write(text)

    def workspace(self, ref):
        """The workspace named by `ref` (exact name or numeric id); CommandError otherwise."""
        try:
            return Workspace.objects.by_ref(ref)
        except Workspace.DoesNotExist:
            raise CommandError(f"No workspace named or numbered '{ref}'.") from None
