"""grant_credits WORKSPACE AMOUNT [--reason TEXT]: prints {"balance": N}."""

from credits.models import QuotaExceeded, grant
from timelines.commands import TimelinesCommand


class Command(TimelinesCommand):
    help = "Grant credits to a workspace (a negative amount removes them, never below zero)."
    user_errors = TimelinesCommand.user_errors + (QuotaExceeded,)

    def add_arguments(self, parser):
        parser.add_argument("workspace", help="the workspace's name or id")
        parser.add_argument("amount", type=int, help="credits to add; negative removes")
        parser.add_argument("--reason", default="Granted from the command line")

    def run(self, *, workspace, amount, reason, **options):
        return {"balance": grant(self.workspace(workspace), amount, reason)}
