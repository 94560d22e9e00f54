"""Message-sending credits: a balance per workspace and the append-only ledger behind it.

The balance is a cached sum of the ledger, kept in the same transaction as every entry, so a
conditional UPDATE on one row is enough to make "never negative" hold under concurrent requests
(PostgreSQL locks the row for the UPDATE; SQLite serialises writers).

Lock order — every writer that takes row locks (the inbound endpoint, the paced sender, refunds,
delivery reports and WAHA events) takes them in this order, and never the other way round:

1. configuration rows (an outbound webhook's settings) — only the pages and the admin lock them;
2. WhatsApp accounts (the sender's claim and settle, a delivery report, a WAHA event), ascending;
3. messages (a delivery report moving one message);
4. the workspace's credit balance, LAST, by workspace ascending when a transaction touches
   several (the sender refunds the failures of one batch in that order), and held for as short
   a time as possible: the inbound endpoint takes it in the statement right before its COMMIT.

Every `select_for_update` names its own table (`of=("self",)`): a default ordering that joins
another table (Account orders by its workspace's name) would otherwise lock that table's row too.
And every one uses `no_key=True` (FOR NO KEY UPDATE): no writer changes a key, and a FOR UPDATE
lock would block the foreign-key checks (FOR KEY SHARE) that an inbound request's COMMIT makes on
the account and chat its new rows point to, while that request holds the balance row — the
deadlock this order exists to prevent.
"""

from django.db import models, transaction
from django.db.models import F, Q, Sum

from timelines.metrics import CREDITS_REFUNDED, CREDITS_SPENT, after_commit
from timelines.models import Workspace


class QuotaExceeded(Exception):
    """The workspace has fewer credits than the operation needs."""

    def __init__(self, message="Message sending quota exceeded"):
        super().__init__(message)


BALANCE_NEVER_NEGATIVE = "balance_never_negative"


class Balance(models.Model):
    workspace = models.OneToOneField(
        Workspace, on_delete=models.CASCADE, related_name="credit_balance"
    )
    balance = models.IntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(balance__gte=0), name=BALANCE_NEVER_NEGATIVE)
        ]

    def __str__(self):
        return f"{self.workspace}: {self.balance}"

    @classmethod
    def of(cls, workspace):
        """The workspace's current balance, 0 when it never had credits."""
        row = cls.objects.filter(workspace=workspace).values_list("balance", flat=True).first()
        return row or 0


class LedgerEntry(models.Model):
    GRANT = "grant"
    RESERVE = "reserve"
    REFUND = "refund"
    KINDS = [(GRANT, "Grant"), (RESERVE, "Reserve"), (REFUND, "Refund")]

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="ledger")
    kind = models.CharField(max_length=10, choices=KINDS)
    # Signed: grants and refunds add, reservations subtract, a negative grant removes.
    amount = models.IntegerField()
    reason = models.CharField(max_length=200, blank=True)
    # The message concerned, by its public message_id; credits sit below the whatsapp app, so
    # this is a reference by value, not a foreign key.
    message_ref = models.CharField(max_length=64, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "ledger entries"
        constraints = [
            # A message is reserved at most once and refunded at most once.
            models.UniqueConstraint(
                fields=["message_ref", "kind"],
                condition=Q(kind__in=["reserve", "refund"]) & ~Q(message_ref=""),
                name="one_reserve_and_one_refund_per_message",
            )
        ]

    def __str__(self):
        return f"{self.kind} {self.amount:+d} ({self.workspace})"

    def save(self, *args, **kwargs):
        # Append-only: the balance is the ledger's sum, so an edited entry would silently break it.
        if self.pk is not None:
            raise ValueError("Ledger entries are append-only; record a new entry instead.")
        super().save(*args, **kwargs)

    @property
    def kind_label(self):
        """What the entry did, in the owner's words: a negative grant takes credits away."""
        if self.kind == self.GRANT and self.amount < 0:
            return "Removal"
        return self.get_kind_display()

    @classmethod
    def total(cls, workspace):
        return cls.objects.filter(workspace=workspace).aggregate(s=Sum("amount"))["s"] or 0


def _apply(workspace, delta, *, require_funds):
    """Move the balance by `delta` in one statement; False when funds were short."""
    rows = Balance.objects.filter(workspace=workspace)
    if require_funds and delta < 0:
        rows = rows.filter(balance__gte=-delta)
    if rows.update(balance=F("balance") + delta) == 1:
        return True  # the usual case, in one statement (the inbound endpoint's hot path)
    # Short of funds, or the workspace never had a balance row: make sure it has one, then retry.
    Balance.objects.get_or_create(workspace=workspace)
    return rows.update(balance=F("balance") + delta) == 1


def grant(workspace, amount, reason=""):
    """Add credits (a negative amount removes them, never below zero); returns the balance."""
    amount = int(amount)
    if amount == 0:
        raise ValueError("The amount must not be zero.")
    with transaction.atomic():
        if not _apply(workspace, amount, require_funds=True):
            raise QuotaExceeded(
                f"Cannot remove {-amount} credits: the balance is only {Balance.of(workspace)}."
            )
        LedgerEntry.objects.create(
            workspace=workspace, kind=LedgerEntry.GRANT, amount=amount, reason=reason
        )
        return Balance.of(workspace)


RESERVED_REASON = "Message queued"


def reservation(workspace_id, amount, message_ref, reason=RESERVED_REASON):
    """The unsaved ledger entry that reserves `amount` credits for a message."""
    if amount <= 0:
        raise ValueError("A reservation takes a positive amount.")
    return LedgerEntry(
        workspace_id=workspace_id,
        kind=LedgerEntry.RESERVE,
        amount=-amount,
        reason=reason,
        message_ref=message_ref,
    )


def reserve(workspace, amount, message_ref, reason=RESERVED_REASON):
    """Take `amount` credits for a message, or raise QuotaExceeded and change nothing.

    Call inside the transaction that queues the message, so both happen or neither does.
    """
    # The entry first, the balance last: the balance row stays locked from its UPDATE until the
    # commit, and every request of the workspace queues up on it, so nothing else may come in
    # between. No savepoint (two round trips fewer per message) and nothing raised inside the
    # block, so a caller's transaction is never left needing a rollback.
    entry = reservation(workspace.pk, amount, message_ref, reason)
    with transaction.atomic(savepoint=False):
        entry.save(force_insert=True)
        reserved = _apply(workspace, -amount, require_funds=True)
        if not reserved:
            entry.delete()
        else:
            after_commit(lambda: CREDITS_SPENT.inc(amount))
    if not reserved:
        raise QuotaExceeded()


def refund(workspace, message_ref, reason="Message failed"):
    """Give back what was reserved for a message, exactly once. Returns the amount refunded.

    A second call, or a call for a message that reserved nothing, refunds 0.
    """
    with transaction.atomic():
        # Lock the balance row first: concurrent refunds of one message then queue up here and
        # the second one sees the first one's entry.
        Balance.objects.select_for_update(of=("self",), no_key=True).get_or_create(
            workspace=workspace
        )
        entries = LedgerEntry.objects.filter(workspace=workspace, message_ref=message_ref)
        reserved = entries.filter(kind=LedgerEntry.RESERVE).first()
        if reserved is None or entries.filter(kind=LedgerEntry.REFUND).exists():
            return 0
        amount = -reserved.amount
        _apply(workspace, amount, require_funds=False)
        LedgerEntry.objects.create(
            workspace=workspace,
            kind=LedgerEntry.REFUND,
            amount=amount,
            reason=reason,
            message_ref=message_ref,
        )
        after_commit(lambda: CREDITS_REFUNDED.inc(amount))
        return amount
