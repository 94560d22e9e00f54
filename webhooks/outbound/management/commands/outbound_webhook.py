"""Show or change a workspace's outbound webhook; prints its settings as JSON."""

import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from timelines.models import Workspace
from webhooks.outbound.models import NONE, OutboundWebhook

GRANULARITY_CHOICES = ["none", "1", "6", "12", "24"]


class Command(BaseCommand):
    help = "Show or change a workspace's outbound webhook (URL, enabled, granularity, secret)."

    def add_arguments(self, parser):
        parser.add_argument("workspace", help="workspace name or id")
        parser.add_argument("--url", help="the URL to notify (http or https)")
        parser.add_argument("--granularity", choices=GRANULARITY_CHOICES)
        switch = parser.add_mutually_exclusive_group()
        switch.add_argument("--enable", action="store_true")
        switch.add_argument("--disable", action="store_true")
        parser.add_argument("--rotate-secret", action="store_true")

    def handle(self, *, workspace, url, granularity, enable, disable, rotate_secret, **options):
        webhook = OutboundWebhook.for_workspace(self._workspace(workspace))
        enabled = True if enable else False if disable else None
        hours = None if granularity is None else _hours(granularity)
        try:
            webhook.configure(url=url, granularity=hours, enabled=enabled)
        except ValidationError as exc:
            raise CommandError(" ".join(" ".join(exc.messages).split())) from None
        if rotate_secret:
            webhook.rotate_secret()
        self.stdout.write(json.dumps(webhook.as_dict()))

    def _workspace(self, ref):
        try:
            return Workspace.objects.by_ref(ref)
        except Workspace.DoesNotExist:
            raise CommandError(f"No workspace named or numbered '{ref}'.") from None


def _hours(granularity):
    return NONE if granularity == "none" else int(granularity)
