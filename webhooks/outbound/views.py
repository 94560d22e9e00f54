"""The owner's log download (O8). The Outbound page itself is the UI's."""

from timelines.access import workspace_for_owner
from timelines.logs import log_download
from webhooks.outbound.models import OutboundWebhook


def download_log(request, workspace_id):
    """The 100 latest requests, with everything sent and received; owner only, others 404."""
    workspace = workspace_for_owner(request, workspace_id)
    webhook = OutboundWebhook.objects.filter(workspace=workspace).first()
    entries = webhook.log_entries() if webhook else []
    return log_download(workspace, "outbound", entries)
