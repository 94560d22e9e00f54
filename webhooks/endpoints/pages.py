"""The owner's pages: Integrations / Webhooks v2 (W1, W4, W5) — the list, and a page per endpoint
— and Integrations / API tokens. Members see the list; only the owner opens an endpoint, changes
anything or sees secrets and logs."""

import json
from datetime import UTC, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from timelines.access import workspace_for_member, workspace_for_owner
from webhooks.endpoints import events
from webhooks.endpoints.forms import EndpointForm, ReplayForm
from webhooks.endpoints.models import LOG_DAYS, LOG_SIZE, ApiToken, Endpoint, endpoints_max
from webhooks.outbound import dispatch
from webhooks.outbound.models import Attempt


def stats(endpoint):
    """Activations and error rate over the last LOG_DAYS days (at most LOG_SIZE), last response,
    and the deliveries still pending."""
    since = timezone.now() - timedelta(days=LOG_DAYS)
    recent = endpoint.attempts.filter(at__gte=since).order_by("-pk")
    ids = list(recent.values_list("pk", flat=True)[:LOG_SIZE])
    counts = Attempt.objects.filter(pk__in=ids).aggregate(
        n=Count("pk"), failed=Count("pk", filter=Q(succeeded=False))
    )
    n = counts["n"]
    return {
        "activations": n,
        "error_rate": round(100 * counts["failed"] / n) if n else 0,
        "last": recent.first(),
        "backlog": endpoint.deliveries.backlog(),
    }


@login_required
def endpoints(request, workspace_id):
    """The list (members see it too) and, for the owner, the form that adds one."""
    if request.method == "POST":
        workspace = workspace_for_owner(request, workspace_id)
        form = EndpointForm(request.POST, workspace=workspace)
        if form.is_valid():
            try:
                endpoint = Endpoint.create(workspace, **form.cleaned_data)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, f"Webhook #{endpoint.pk} added.")
                return redirect("endpoints:action", workspace.pk, endpoint.pk)
        return _render_list(request, workspace, form, status=400)
    workspace = workspace_for_member(request, workspace_id)
    return _render_list(request, workspace, EndpointForm(workspace=workspace))


def _render_list(request, workspace, form, status=200):
    rows = [
        {"endpoint": e, **stats(e)}
        for e in Endpoint.objects.filter(workspace=workspace).select_related("account")
    ]
    context = {
        "workspace": workspace,
        "rows": rows,
        "form": form,
        "is_owner": workspace.is_owner(request.user),
        **_figures(),
    }
    return render(request, "endpoints/page.html", context, status=status)


def _figures():
    return {"endpoints_max": endpoints_max(), "log_size": LOG_SIZE, "log_days": LOG_DAYS}


@login_required
def endpoint_action(request, workspace_id, endpoint_id):
    """GET: the endpoint's own page (settings, secret, activity, replay, delete). POST `action`:
    save, enable, disable, delete, rotate, redeliver, replay; then back to that page."""
    workspace = workspace_for_owner(request, workspace_id)
    endpoint = get_object_or_404(Endpoint, pk=endpoint_id, workspace=workspace)
    if request.method != "POST":
        form = EndpointForm(instance=endpoint, workspace=workspace)
        return _render_detail(request, endpoint, form)
    handler = ACTIONS.get(request.POST.get("action", ""))
    if handler is None:
        messages.error(request, "Unknown action.")
    else:
        response = handler(request, endpoint)
        if response is not None:
            return response
    return redirect("endpoints:action", workspace.pk, endpoint.pk)


def _render_detail(request, endpoint, form, status=200):
    context = {
        "workspace": endpoint.workspace,
        "endpoint": endpoint,
        "form": form,
        "replay_form": ReplayForm(initial={"since": ReplayForm.an_hour_ago()}),
        "is_owner": True,
        **stats(endpoint),
        **_figures(),
    }
    return render(request, "endpoints/detail.html", context, status=status)


def _switched_off_here(request):
    return f"Switched off by {request.user} on the Webhooks v2 page."


def _save(request, endpoint):
    form = EndpointForm(request.POST, instance=endpoint, workspace=endpoint.workspace)
    if not form.is_valid():
        return _render_detail(request, endpoint, form, status=400)
    fields = dict(form.cleaned_data)
    endpoint.refresh_from_db()
    try:
        endpoint.change(off_reason=_switched_off_here(request), **fields)
    except ValidationError as exc:
        form.add_error(None, exc)
        return _render_detail(request, endpoint, form, status=400)
    messages.success(request, "Webhook saved.")
    return None


def _enable(request, endpoint):
    endpoint.change(enabled=True)
    messages.success(request, "Webhook enabled: pending deliveries go out now.")


def _disable(request, endpoint):
    endpoint.change(enabled=False, off_reason=_switched_off_here(request))
    messages.success(request, "Webhook switched off: pending deliveries are kept.")


def _delete(request, endpoint):
    endpoint.delete()
    messages.success(request, f"Webhook #{endpoint.pk} deleted.")
    return redirect("endpoints:page", workspace_id=endpoint.workspace_id)


def _rotate(request, endpoint):
    endpoint.rotate_secret()
    messages.success(request, "New signing secret: requests are signed with it from now on.")


def _redeliver(request, endpoint):
    delivery = endpoint.deliveries.filter(pk=request.POST.get("delivery") or 0).first()
    if delivery is None:
        messages.error(request, "No such delivery.")
    else:
        dispatch.redeliver(delivery)
        messages.success(request, f"Redelivery queued ({delivery.event_id}).")


def _replay(request, endpoint):
    form = ReplayForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give the date and time to replay from.")
        return None
    since = form.cleaned_data["since"]
    if timezone.is_naive(since):
        since = since.replace(tzinfo=UTC)
    count = events.replay(endpoint, since)
    said = f"{count} event{'' if count == 1 else 's'}"
    messages.success(request, f"Replaying {said} since {since:%Y-%m-%d %H:%M} UTC.")
    return None


ACTIONS = {
    "save": _save,
    "enable": _enable,
    "disable": _disable,
    "delete": _delete,
    "rotate": _rotate,
    "redeliver": _redeliver,
    "replay": _replay,
}


@login_required
def download_log(request, workspace_id, endpoint_id):
    """The last LOG_SIZE activations of the last LOG_DAYS days, everything sent and received."""
    workspace = workspace_for_owner(request, workspace_id)
    endpoint = get_object_or_404(Endpoint, pk=endpoint_id, workspace=workspace)
    since = timezone.now() - timedelta(days=LOG_DAYS)
    attempts = (endpoint.attempts.filter(at__gte=since).select_related("delivery").order_by("-pk"))[
        :LOG_SIZE
    ]
    body = json.dumps([a.as_log_entry() for a in attempts], indent=2, ensure_ascii=False)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    name = f"webhook-{endpoint.pk}-log.json"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@login_required
def tokens(request, workspace_id):
    workspace = workspace_for_owner(request, workspace_id)
    created = None
    if request.method == "POST":
        if request.POST.get("revoke"):
            token = get_object_or_404(ApiToken, pk=request.POST["revoke"], workspace=workspace)
            token.revoke()
            messages.success(request, f"Token {token.name} revoked: it stops working now.")
            return redirect("endpoints:tokens", workspace_id=workspace.pk)
        try:
            _, created = ApiToken.issue(workspace, request.POST.get("name", ""), request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
    context = {
        "workspace": workspace,
        "tokens": ApiToken.objects.filter(workspace=workspace),
        "created": created,
    }
    return render(request, "endpoints/tokens.html", context)
