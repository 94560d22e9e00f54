"""The owner's Integrations / Inbound webhook page (I1–I4): the secret URL, Generate new URL,
Webhook enabled, the latest attempts and a curl example. Members see it without the secret URL;
only the owner changes anything."""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from timelines.access import workspace_for_member, workspace_for_owner
from webhooks.inbound.models import ATTEMPTS_KEPT, Attempt, InboundWebhook
from whatsapp.models import Message

LATEST_ATTEMPTS = 20
EXAMPLE_BODY = {"action": "send", "phone": "+14151231234", "text": "Hello from Timelines!"}


@login_required
def inbound(request, workspace_id):
    workspace = workspace_for_member(request, workspace_id)
    webhook = InboundWebhook.for_workspace(workspace)
    attempts = _with_messages(Attempt.latest(workspace, LATEST_ATTEMPTS))
    context = {
        "workspace": workspace,
        "webhook": webhook,
        "is_owner": workspace.is_owner(request.user),
        "attempts": attempts,
        "latest": LATEST_ATTEMPTS,
        "kept": ATTEMPTS_KEPT,
        "curl": _curl(webhook.url),
    }
    return render(request, "inbound/page.html", context)


def _with_messages(attempts):
    """The attempts, each with the message it queued (one query), to show that message's status."""
    attempts = list(attempts)
    ids = [attempt.message_id for attempt in attempts if attempt.message_id]
    found = {m.message_id: m for m in Message.objects.filter(message_id__in=ids)}
    for attempt in attempts:
        attempt.queued_message = found.get(attempt.message_id)
    return attempts


def _curl(url):
    body = json.dumps(EXAMPLE_BODY, ensure_ascii=False)
    return f"curl -X POST '{url}' \\\n  -H 'Content-Type: application/json' \\\n  -d '{body}'"


@login_required
@require_POST
def regenerate(request, workspace_id):
    workspace = workspace_for_owner(request, workspace_id)
    InboundWebhook.for_workspace(workspace).regenerate()
    messages.success(
        request, "New URL generated. The old URL no longer works: update your integrations."
    )
    return redirect("inbound:page", workspace_id=workspace.pk)


@login_required
@require_POST
def set_enabled(request, workspace_id):
    workspace = workspace_for_owner(request, workspace_id)
    enabled = request.POST.get("enabled") == "on"
    InboundWebhook.for_workspace(workspace).set_enabled(enabled)
    if enabled:
        messages.success(request, "Inbound webhook enabled: requests to its URL send messages.")
    else:
        messages.success(
            request, "Inbound webhook disabled: its URL answers 403 and sends nothing."
        )
    return redirect("inbound:page", workspace_id=workspace.pk)
