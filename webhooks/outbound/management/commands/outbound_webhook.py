"""Show or change a workspace's outbound webhook; prints its settings as JSON."""

from django.core.management.base import CommandError

from timelines.commands import TimelinesCommand
from webhooks.outbound import aggregation, dispatch
from webhooks.outbound.models import NONE, OutboundWebhook

GRANULARITY_CHOICES = ["none", "1", "6", "12", "24"]


class Command(TimelinesCommand):
    help = "Show or change a workspace's outbound webhook (URL, enabled, granularity, secret)."

    def add_arguments(self, parser):
        parser.add_argument("workspace", help="workspace name or id")
        parser.add_argument("--url", help="the URL to notify (http or https)")
        parser.add_argument("--granularity", choices=GRANULARITY_CHOICES)
        switch = parser.add_mutually_exclusive_group()
        switch.add_argument("--enable", action="store_true")
        switch.add_argument("--disable", action="store_true")
        parser.add_argument("--rotate-secret", action="store_true")
        parser.add_argument(
            "--flush",
            action="store_true",
            help="close the current aggregation window now and send its bundles",
        )

    def run(self, *, workspace, url, granularity, enable, disable, rotate_secret, flush, **options):
        webhook = OutboundWebhook.for_workspace(self.workspace(workspace))
        enabled = True if enable else False if disable else None
        hours = None if granularity is None else _hours(granularity)
        webhook.configure(url=url, granularity=hours, enabled=enabled)
        if rotate_secret:
            webhook.rotate_secret()
        if not flush:
            return webhook.as_dict()
        made = aggregation.send_window_now(webhook)
        if made is None:
            raise CommandError("Nothing to send now: the webhook does not aggregate messages.")
        dispatch.wake()
        return {**webhook.as_dict(), "bundles": made}


def _hours(granularity):
    return NONE if granularity == "none" else int(granularity)
