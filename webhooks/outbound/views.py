"""The owner's log download (O8). The Outbound page itself is the UI's."""

import json

from django.http import HttpResponse

from timelines.access import workspace_for_owner
from webhooks.outbound.models import OutboundWebhook


def download_log(request, workspace_id):
    """The 100 latest requests, with everything sent and received; owner only, others 404."""
    workspace = workspace_for_owner(request, workspace_id)
    webhook = OutboundWebhook.objects.filter(workspace=workspace).first()
    entries = webhook.log_entries() if webhook else []
    body = json.dumps(entries, indent=2, ensure_ascii=False)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    filename = f"outbound-webhook-log-{workspace.pk}.json"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
