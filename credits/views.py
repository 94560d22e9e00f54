"""The workspace's credit balance and the latest entries of its ledger."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from credits.models import Balance, LedgerEntry
from timelines.access import workspace_for_member

LATEST_ENTRIES = 50


@login_required
def index(request, workspace_id):
    workspace = workspace_for_member(request, workspace_id)
    context = {
        "workspace": workspace,
        "balance": Balance.of(workspace),
        "entries": LedgerEntry.objects.filter(workspace=workspace)[:LATEST_ENTRIES],
        "latest": LATEST_ENTRIES,
        "is_owner": workspace.is_owner(request.user),
    }
    return render(request, "credits/index.html", context)
