"""The operations page (SPEC H3): staff see in one page of the admin what the metrics count —
workers and their heartbeats, who holds which lease, the backlogs with their oldest ages, the
paused accounts and the latest failures with their reasons."""

from django.contrib import admin
from django.template.response import TemplateResponse
from django.utils import timezone

from ops import backlogs

TOP_ACCOUNTS = 20


def operations(request):
    now = timezone.now()
    queued = backlogs.queued_by_account()
    pending = backlogs.pending_by_target()
    context = {
        **admin.site.each_context(request),
        "title": "Operations",
        "now": now,
        "heartbeats": backlogs.heartbeats(now),
        "heartbeat_max_age": backlogs.HEARTBEAT_MAX_AGE,
        "leases": backlogs.leases(now),
        "queued_total": sum(b.queued for b in queued),
        "queued": [(b, b.age(now)) for b in queued[:TOP_ACCOUNTS]],
        "queued_accounts": len(queued),
        "top_accounts": TOP_ACCOUNTS,
        "overdue": backlogs.sender_overdue(now),
        "pending": [(b, b.age(now)) for b in pending],
        "paused": backlogs.paused_accounts(),
        "failed_messages": backlogs.latest_failed_messages(),
        "failed_deliveries": backlogs.latest_failed_deliveries(),
    }
    return TemplateResponse(request, "ops/operations.html", context)


view = admin.site.admin_view(operations)
