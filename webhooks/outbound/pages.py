"""The owner's Integrations / Outbound webhook page (O1, O6–O9): settings, signing secret, the
latest deliveries with Redeliver. Members see it; only the owner changes anything."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from timelines.access import workspace_for_member, workspace_for_owner
from webhooks.outbound import aggregation, dispatch
from webhooks.outbound.forms import OutboundWebhookForm
from webhooks.outbound.models import MAX_CONSECUTIVE_FAILURES, Delivery, OutboundWebhook

ACTIVITY_SIZE = 10


@login_required
def outbound(request, workspace_id):
    if request.method == "POST":
        return _save(request, workspace_id)
    workspace = workspace_for_member(request, workspace_id)
    webhook = OutboundWebhook.for_workspace(workspace)
    return _render(request, webhook, OutboundWebhookForm(instance=webhook))


def _save(request, workspace_id):
    workspace = workspace_for_owner(request, workspace_id)
    webhook = OutboundWebhook.for_workspace(workspace)
    was_enabled = webhook.enabled
    form = OutboundWebhookForm(request.POST, instance=webhook)
    try:
        if form.is_valid():
            webhook = form.save()
            messages.success(request, _saved_message(was_enabled, webhook))
            return redirect("outbound:page", workspace_id=workspace.pk)
    except ValidationError as exc:
        form.add_error(None, exc)
    messages.error(request, "The settings were not saved: see the errors below.")
    return _render(request, OutboundWebhook.for_workspace(workspace), form, status=400)


def _saved_message(was_enabled, webhook):
    if webhook.enabled and not was_enabled:
        return "Outbound webhook enabled: new messages will be POSTed to your URL."
    if was_enabled and not webhook.enabled:
        return "Outbound webhook switched off: no message is sent until you enable it again."
    return "Outbound webhook settings saved."


def _render(request, webhook, form, status=200):
    is_owner = webhook.workspace.is_owner(request.user)
    form.fields["url"].widget.attrs["placeholder"] = "https://hooks.example.com/timelines"
    if not is_owner:
        for field in form.fields.values():
            field.disabled = True
    context = {
        "workspace": webhook.workspace,
        "webhook": webhook,
        "form": form,
        "is_owner": is_owner,
        "activity": webhook.recent_attempts(ACTIVITY_SIZE),
        "activity_size": ACTIVITY_SIZE,
        "backlog": webhook.deliveries.backlog(),
        "max_failures": MAX_CONSECUTIVE_FAILURES,
    }
    return render(request, "outbound/page.html", context, status=status)


@login_required
@require_POST
def rotate_secret(request, workspace_id):
    workspace = workspace_for_owner(request, workspace_id)
    OutboundWebhook.for_workspace(workspace).rotate_secret()
    messages.success(
        request, "New signing secret generated: requests are signed with it from now on."
    )
    return redirect("outbound:page", workspace_id=workspace.pk)


@login_required
@require_POST
def redeliver(request, workspace_id, delivery_id):
    workspace = workspace_for_owner(request, workspace_id)
    delivery = get_object_or_404(Delivery, pk=delivery_id, webhook__workspace=workspace)
    dispatch.redeliver(delivery)
    messages.success(request, f"Redelivery queued: the same request ({delivery.event_id}) again.")
    return redirect("outbound:page", workspace_id=workspace.pk)


@login_required
@require_POST
def send_now(request, workspace_id):
    """Close the current aggregation window early and send its bundles."""
    workspace = workspace_for_owner(request, workspace_id)
    made = aggregation.send_window_now(OutboundWebhook.for_workspace(workspace))
    if made is None:
        messages.error(request, "Nothing to send now: the webhook does not aggregate messages.")
    else:
        dispatch.wake()
        messages.success(request, _sent_now_message(made))
    return redirect("outbound:page", workspace_id=workspace.pk)


def _sent_now_message(made):
    if not made:
        return "Window closed: no chat had messages in it, so nothing was sent. A new one is open."
    return (
        f"Window closed: {made} bundle{'s' if made != 1 else ''} on the way. A new window is open."
    )
