"""What an operator watches, read from the database: the same few queries feed the readiness
check (ops.health), the metrics (ops.gauges) and the operations page (ops.page), so the three
never disagree. Each is an indexed lookup or one pass over the rows that wait (queued messages,
pending deliveries), never over the history."""

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from django.db.models import Count, Min, Q
from django.utils import timezone

from timelines.models import Heartbeat, Lease
from webhooks.endpoints.models import Endpoint
from webhooks.outbound.models import Delivery, OutboundWebhook
from whatsapp.models import Account, Message

HEARTBEAT_MAX_AGE = 60  # seconds: SPEC H1's "a worker's heartbeat (≤ 60 s old)"


def seconds_since(moment, now):
    return max(0.0, (now - moment).total_seconds()) if moment else 0.0


# -- workers and leases ----------------------------------------------------------------------


def heartbeats(now):
    """Every worker process that beat within a day, newest first, each with `age` (seconds) and
    `alive` (beat within HEARTBEAT_MAX_AGE)."""
    rows = list(Heartbeat.objects.all())
    for row in rows:
        row.age = seconds_since(row.beat_at, now)
        row.alive = row.age <= HEARTBEAT_MAX_AGE
    return rows


def newest_heartbeat():
    return Heartbeat.objects.order_by("-beat_at").first()


def leases(now):
    """Every lease with `held` (someone holds it now) and the age of its holder's last renewal."""
    rows = list(Lease.objects.all())
    for row in rows:
        row.held = bool(row.until and row.until >= now)
        row.renewed_age = seconds_since(row.renewed_at, now) if row.held else None
    return rows


# -- the paced sender ------------------------------------------------------------------------


def paused_accounts(now=None):
    """Accounts the governor has paused (SPEC G3), by WhatsApp's restriction or by their owner,
    and not yet at the pause's end (the tick clears an ended pause within a minute, so the time
    is checked here). The metric timelines_accounts_paused and the page read this."""
    now = now or timezone.now()
    still = Q(paused_until__isnull=True) | Q(paused_until__gt=now)
    return Account.objects.exclude(paused="").filter(still).select_related("workspace")


@dataclass
class AccountBacklog:
    account: Account
    queued: int
    oldest_queued_at: datetime

    def age(self, now):
        return seconds_since(self.oldest_queued_at, now)


def queued_by_account():
    """[AccountBacklog] of every account with queued messages, the largest first: one pass over
    the queued part of the message_status_queue index."""
    rows = (
        Message.objects.filter(status=Message.QUEUED)
        .order_by()
        .values_list("account_id")
        .annotate(Count("id"), Min("queued_at"))
    )
    rows = list(rows)
    accounts = Account.objects.select_related("workspace").in_bulk([row[0] for row in rows])
    backlogs = [AccountBacklog(accounts[pk], n, oldest) for pk, n, oldest in rows if pk in accounts]
    return sorted(backlogs, key=lambda b: -b.queued)


def sender_overdue(now):
    """Seconds the most overdue account has waited past its due time (0: none is): the age of
    the part of the backlog that should be going out. Accounts that wait for their pace, or
    for a disconnected phone, are not overdue; a sender whose dispatchers died makes this grow."""
    due = (
        Account.objects.filter(next_send_at__lte=now)
        .order_by("next_send_at")
        .values_list("next_send_at", flat=True)
        .first()
    )
    return seconds_since(due, now)


def latest_failed_messages(limit=20):
    return (
        Message.objects.filter(status=Message.FAILED, failed_at__isnull=False)
        .select_related("chat__account__workspace")
        .order_by("-failed_at")[:limit]
    )


# -- outbound deliveries ---------------------------------------------------------------------


@dataclass
class TargetBacklog:
    target: object  # an OutboundWebhook or an Endpoint
    pending: int
    oldest_created_at: datetime

    @property
    def enabled(self):
        return self.target.enabled

    @property
    def host(self):
        """The receiver's host only: a webhook URL's path often carries the receiver's secret."""
        return urlsplit(self.target.url).hostname or "(no URL)"

    def age(self, now):
        return seconds_since(self.oldest_created_at, now)


def pending_by_target():
    """[TargetBacklog] of every webhook and endpoint with pending deliveries, the largest first.
    A switched-off target's deliveries wait for it on purpose (SPEC O7): `enabled` says which."""
    rows = list(
        Delivery.objects.filter(state=Delivery.PENDING)
        .order_by()
        .values_list("webhook_id", "endpoint_id")
        .annotate(Count("id"), Min("created_at"))
    )
    webhooks = OutboundWebhook.objects.select_related("workspace").in_bulk(
        [w for w, _, _, _ in rows if w]
    )
    endpoints = Endpoint.objects.select_related("workspace").in_bulk(
        [e for _, e, _, _ in rows if e]
    )
    backlogs = []
    for webhook_id, endpoint_id, n, oldest in rows:
        target = webhooks.get(webhook_id) if webhook_id else endpoints.get(endpoint_id)
        if target is not None:
            backlogs.append(TargetBacklog(target, n, oldest))
    return sorted(backlogs, key=lambda b: -b.pending)


def latest_failed_deliveries(limit=20):
    """Deliveries given up on (after every retry), the latest first."""
    return (
        Delivery.objects.filter(state=Delivery.FAILED)
        .select_related("webhook__workspace", "endpoint__workspace")
        .order_by("-finished_at")[:limit]
    )
