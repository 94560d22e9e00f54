"""List, add, delete, enable or disable a workspace's webhooks v2 endpoints; prints JSON."""

from django.core.management.base import CommandError

from timelines.commands import TimelinesCommand
from webhooks.endpoints import event_types
from webhooks.endpoints.models import Endpoint


class Command(TimelinesCommand):
    help = "Manage a workspace's webhooks v2 endpoints (prints them as JSON)."

    def add_arguments(self, parser):
        parser.add_argument("workspace", help="workspace name or id")
        parser.add_argument("--add", metavar="URL", help="add an endpoint at URL (needs --event)")
        parser.add_argument("--event", choices=event_types.ALL, help="the event type to send")
        parser.add_argument("--list", action="store_true", help="list the endpoints (default)")
        parser.add_argument("--delete", type=int, metavar="ID")
        switch = parser.add_mutually_exclusive_group()
        switch.add_argument("--enable", type=int, metavar="ID")
        switch.add_argument("--disable", type=int, metavar="ID")

    def run(self, *, workspace, add, event, delete, enable, disable, **options):
        workspace = self.workspace(workspace)
        endpoints = Endpoint.objects.filter(workspace=workspace)
        if add is not None:
            if not event:
                raise CommandError("--add needs --event TYPE.")
            return Endpoint.create(workspace, url=add, event_type=event).as_dict()
        if event:
            raise CommandError("--event goes with --add URL.")
        if delete is not None:
            endpoint = self._one(endpoints, delete)
            data = endpoint.as_dict()
            endpoint.delete()
            return {"deleted": data}
        if enable is not None or disable is not None:
            endpoint = self._one(endpoints, enable if enable is not None else disable)
            reason = "Switched off from the command line (manage.py webhooks_v2)."
            return endpoint.change(enabled=enable is not None, off_reason=reason).as_dict()
        return [endpoint.as_dict() for endpoint in endpoints.select_related("account")]

    def _one(self, endpoints, pk):
        endpoint = endpoints.filter(pk=pk).first()
        if endpoint is None:
            raise CommandError(f"No webhook {pk} in this workspace.")
        return endpoint
