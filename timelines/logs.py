"""Log downloads (the inbound attempts, the outbound requests): one shape and one naming for
both, so a script that reads one reads the other.

    {"workspace": "Demo", "log": "inbound webhook", "generated_at": "…",
     "attempts": [{"at": "…", "request": {…}, "response": {…}, …}, …]}

in a file named `<inbound|outbound>-webhook-log-<workspace id>-<YYYYmmdd-HHMMSS>.json`.
"""

import json

from django.http import HttpResponse
from django.utils import timezone


def log_download(workspace, kind, attempts):
    """The file for `kind` ("inbound" or "outbound") holding `attempts` (dicts, newest first)."""
    now = timezone.now()
    document = {
        "workspace": workspace.name,
        "log": f"{kind} webhook",
        "generated_at": now.isoformat(),
        "attempts": attempts,
    }
    response = HttpResponse(
        json.dumps(document, ensure_ascii=False, indent=2),
        content_type="application/json; charset=utf-8",
    )
    filename = f"{kind}-webhook-log-{workspace.pk}-{now:%Y%m%d-%H%M%S}.json"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
