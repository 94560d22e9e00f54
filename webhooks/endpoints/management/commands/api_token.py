"""Create or revoke a workspace API token (for the webhooks v2 management API); prints JSON."""

from django.core.management.base import CommandError

from timelines.commands import TimelinesCommand
from webhooks.endpoints.models import ApiToken


class Command(TimelinesCommand):
    help = "Create (printed once) or revoke a workspace API token."

    def add_arguments(self, parser):
        parser.add_argument("workspace", help="workspace name or id")
        action = parser.add_mutually_exclusive_group(required=True)
        action.add_argument("--create", metavar="NAME")
        action.add_argument("--revoke", type=int, metavar="ID")

    def run(self, *, workspace, create, revoke, **options):
        workspace = self.workspace(workspace)
        if create is not None:
            row, token = ApiToken.issue(workspace, create)
            return {"id": row.pk, "token": token}
        row = ApiToken.objects.filter(workspace=workspace, pk=revoke).first()
        if row is None:
            raise CommandError(f"No API token {revoke} in this workspace.")
        row.revoke()
        return {"id": row.pk, "revoked": True}
