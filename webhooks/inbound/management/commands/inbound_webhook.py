"""Show, regenerate, enable or disable a workspace's inbound webhook URL."""

from timelines.commands import TimelinesCommand
from webhooks.inbound.models import InboundWebhook


class Command(TimelinesCommand):
    help = (
        'Print {"url": ..., "enabled": ...} of a workspace\'s inbound webhook, generating the URL '
        "if it has none."
    )

    def add_arguments(self, parser):
        parser.add_argument("workspace", help="the workspace's name or id")
        parser.add_argument(
            "--regenerate", action="store_true", help="replace the URL (the old one stops working)"
        )
        switch = parser.add_mutually_exclusive_group()
        switch.add_argument("--enable", action="store_true", help="switch the webhook on")
        switch.add_argument("--disable", action="store_true", help="switch the webhook off")

    def run(self, *, workspace, regenerate, enable, disable, **options):
        webhook = InboundWebhook.for_workspace(self.workspace(workspace))
        if regenerate:
            webhook.regenerate()
        if enable or disable:
            webhook.set_enabled(enable)
        return {"url": webhook.url, "enabled": webhook.enabled}
