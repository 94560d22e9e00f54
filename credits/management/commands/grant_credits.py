"""grant_credits WORKSPACE AMOUNT [--reason TEXT]: prints {"balance": N}."""

import json

from django.core.management.base import BaseCommand, CommandError

from credits.models import QuotaExceeded, grant
from timelines.models import Workspace


class Command(BaseCommand):
    help = "Grant credits to a workspace (a negative amount removes them, never below zero)."

    def add_arguments(self, parser):
        parser.add_argument("workspace", help="the workspace's name or id")
        parser.add_argument("amount", type=int, help="credits to add; negative removes")
        parser.add_argument("--reason", default="Granted from the command line")

    def handle(self, *, workspace, amount, reason, **options):
        try:
            ws = Workspace.objects.by_ref(workspace)
        except Workspace.DoesNotExist:
            raise CommandError(f"No workspace named or numbered '{workspace}'.") from None
        try:
            balance = grant(ws, amount, reason)
        except (QuotaExceeded, ValueError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(json.dumps({"balance": balance}))
