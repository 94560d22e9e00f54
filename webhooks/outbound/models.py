"""The outbound webhook (SPEC O1–O9): a workspace's configuration, the deliveries to make (one row
per request, the database is the queue), the attempts made (the log) and the messages waiting for
their aggregation window."""

from datetime import UTC, datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import F
from django.utils import timezone

from timelines import safehttp
from timelines.models import Workspace
from webhooks.outbound import signing
from webhooks.outbound.targets import (  # noqa: F401  (re-exported)
    MAX_CONSECUTIVE_FAILURES,
    SWITCHED_OFF_BY_ERRORS,
    SWITCHED_OFF_BY_OWNER,
    DeliveryTarget,
)
from whatsapp.models import Chat, Message

# O1: "Don't aggregate" is 0 hours.
NONE = 0
GRANULARITIES = [
    (NONE, "Don't aggregate"),
    (1, "Every hour"),
    (6, "Every 6 hours"),
    (12, "Every 12 hours"),
    (24, "Every 24 hours"),
]
LOG_SIZE = 100  # attempts kept per workspace (O8 download)


def validate_webhook_url(url):
    """Refuse, when saved, what the seam would refuse when sending: not http(s), a private
    address while ALLOW_PRIVATE_URLS is off, a host that does not resolve."""
    try:
        safehttp.check_url(url)
    except safehttp.FetchError as exc:
        raise ValidationError(f"This URL cannot be used: {exc}.") from None


def window_end_after(moment, hours):
    """The first UTC multiple of `hours` strictly after `moment` (windows are aligned: a 6-hour
    window ends at 00:00, 06:00, 12:00 or 18:00 UTC)."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    step = hours * 3600
    elapsed = int((moment - epoch).total_seconds())
    return epoch + timedelta(seconds=(elapsed // step + 1) * step)


class OutboundWebhook(DeliveryTarget):
    LOG_SIZE = LOG_SIZE

    workspace = models.OneToOneField(
        Workspace, on_delete=models.CASCADE, related_name="outbound_webhook"
    )
    url = models.CharField(
        "webhook URL", max_length=2000, blank=True, validators=[validate_webhook_url]
    )
    enabled = models.BooleanField("webhook enabled", default=False)
    granularity = models.PositiveSmallIntegerField(
        "aggregation granularity", choices=GRANULARITIES, default=NONE
    )
    secret = models.CharField("signing secret", max_length=100, default=signing.new_secret)
    # Messages with an attachment are not sent (O2); counted so the owner can see why.
    skipped_attachments = models.PositiveIntegerField(default=0)
    last_skipped_at = models.DateTimeField(null=True, blank=True)
    # The aggregation window now open (both empty when not aggregating). A granularity change
    # only takes effect when this window closes, so no message is bundled twice or lost.
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "outbound webhook"

    def __str__(self):
        return f"{self.workspace}: {self.url or '(no URL)'}"

    @classmethod
    def for_workspace(cls, workspace):
        webhook, _ = cls.objects.get_or_create(workspace=workspace)
        return webhook

    @property
    def granularity_value(self):
        """As the command takes and prints it: "none" or the number of hours, as a string."""
        return "none" if self.granularity == NONE else str(self.granularity)

    @property
    def is_aggregating(self):
        return self.window_end is not None

    def as_dict(self):
        return {
            "url": self.url,
            "enabled": self.enabled,
            "granularity": self.granularity_value,
            "secret": self.secret,
            "consecutive_failures": self.consecutive_failures,
            "window_end": self.window_end.strftime("%Y-%m-%dT%H:%M:%SZ")
            if self.window_end
            else None,
        }

    # -- configuration ---------------------------------------------------------------------------

    def configure(self, *, url=None, granularity=None, enabled=None):
        """Change any of the settings at once; raises ValidationError (nothing saved) when the URL
        is refused or the webhook would be enabled without one."""
        with transaction.atomic():
            locked = OutboundWebhook.objects.select_for_update(of=("self",), no_key=True).get(
                pk=self.pk
            )
            if url is not None:
                locked.url = url.strip()
                locked.full_clean(exclude=["workspace", "secret"])
            if granularity is not None:
                locked._set_granularity(granularity)
            if not locked.url and locked.enabled and enabled is not False:
                raise ValidationError("An enabled webhook needs a URL: enter one or disable it.")
            locked.save()
            if enabled is True and not locked.enabled:
                # Saving the settings of a webhook that is on leaves its failure count and its
                # retry times alone; only switching it on again resets them.
                locked.enable()
            elif enabled is False and locked.enabled:
                # Already off: keep the reason and time it went off (the page's banner says why).
                locked.disable()
        self.refresh_from_db()
        return self

    def _set_granularity(self, hours):
        if hours not in dict(GRANULARITIES):
            raise ValidationError(f"Granularity must be one of none, 1, 6, 12, 24; not {hours}.")
        self.granularity = hours
        if hours != NONE and self.window_end is None:
            # Nothing is being aggregated yet: the first window opens now.
            now = timezone.now()
            self.window_start, self.window_end = now, window_end_after(now, hours)

    def enable(self):
        if not self.url:
            raise ValidationError("Set the webhook URL before enabling the webhook.")
        super().enable()

    def count_skipped(self):
        OutboundWebhook.objects.filter(pk=self.pk).update(
            skipped_attachments=F("skipped_attachments") + 1, last_skipped_at=timezone.now()
        )

    @staticmethod
    def send_disabled_email(pk):
        from webhooks.outbound import emails

        emails.send_disabled_email(pk)

    # -- the log (O8) ----------------------------------------------------------------------------

    def recent_attempts(self, limit=10):
        """The latest attempts, newest first, for the Outbound page: `at`, `status`/`error`,
        `delivery.chat` and `delivery.message_count` are what the page shows."""
        return self.attempts.select_related("delivery__chat").order_by("-pk")[:limit]

    def log_entries(self, limit=LOG_SIZE):
        return [attempt.as_log_entry() for attempt in self.recent_attempts(limit)]


class DeliveryQuerySet(models.QuerySet):
    def backlog(self):
        """What a webhook's page says about its queue: how many deliveries are pending and when
        the next retry among them is due (None when none is waiting for one)."""
        return self.filter(state=Delivery.PENDING).aggregate(
            pending=models.Count("pk"),
            next_retry=models.Min("next_attempt_at", filter=models.Q(attempts__gt=0)),
        )

    def due(self, now):
        """Pending deliveries of enabled webhooks whose time has come and that nobody holds, and
        that no earlier delivery of their chat is waiting in front of (per-chat order).

        An earlier delivery only holds the chat while it is due or on its way; once it has failed
        and sits in its backoff, the chat's later deliveries go out (O6: each message that fails
        to reach the receiver counts at once, whatever chat it is in, so a dead receiver is
        switched off after about 11 messages instead of after the first one's retry schedule).
        When a delivery's backoff ends it holds the chat again, and re-enabling makes every
        pending delivery due at once, so they go out one by one in the chat's order."""
        earlier = Delivery.objects.filter(
            models.Q(webhook_id=models.OuterRef("webhook_id"))
            | models.Q(endpoint_id=models.OuterRef("endpoint_id")),
            chat_id=models.OuterRef("chat_id"),
            state=Delivery.PENDING,
            next_attempt_at__lte=now,
            pk__lt=models.OuterRef("pk"),
        )
        return (
            self.filter(state=Delivery.PENDING, next_attempt_at__lte=now)
            .filter(models.Q(webhook__enabled=True) | models.Q(endpoint__enabled=True))
            .filter(models.Q(claimed_until__isnull=True) | models.Q(claimed_until__lt=now))
            .exclude(models.Exists(earlier))
        )


class Delivery(models.Model):
    """One request to make: a message (O3) or a bundle of a chat's messages (O4) to the outbound
    webhook, or an event to one webhooks-v2 endpoint (W4). Exactly one of `webhook` and
    `endpoint` is set."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    STATES = [(PENDING, "Pending"), (SUCCEEDED, "Delivered"), (FAILED, "Failed (gave up)")]
    MESSAGE = "message"
    BUNDLE = "bundle"
    EVENT = "event"
    KINDS = [(MESSAGE, "Message"), (BUNDLE, "Bundle"), (EVENT, "Event (v2)")]

    webhook = models.ForeignKey(
        OutboundWebhook, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    endpoint = models.ForeignKey(
        "endpoints.Endpoint",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="deliveries",
    )
    # The v2 event this delivery announces (its `event_id` below is the event's webhook-id).
    source_event = models.ForeignKey(
        "endpoints.Event", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=10, choices=KINDS)
    # Indexed by delivery_chat_order below, which begins with it. A claim and an outcome each
    # rewrite the delivery's row and its index entries, so no index is kept twice and the
    # claim's own columns (claimed_until, claim_token) have none.
    chat = models.ForeignKey(
        Chat, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    message_count = models.PositiveIntegerField(default=1)
    redelivery_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="redeliveries"
    )
    # The `webhook-id` header: the same on every retry and redelivery of this event.
    event_id = models.CharField(max_length=64, default=signing.new_webhook_id, db_index=True)
    body = models.TextField()

    state = models.CharField(max_length=10, choices=STATES, default=PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_until = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=32, blank=True)
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = DeliveryQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(fields=["state", "next_attempt_at", "id"], name="delivery_due"),
            models.Index(fields=["chat", "state", "next_attempt_at"], name="delivery_chat_order"),
        ]
        constraints = [
            # A message is announced once; only the owner's redeliveries repeat it.
            models.UniqueConstraint(
                fields=["message"],
                condition=models.Q(redelivery_of__isnull=True, endpoint__isnull=True),
                name="one_delivery_per_message",
            )
        ]

    def __str__(self):
        return f"{self.event_id} ({self.state})"

    @property
    def target(self):
        """The OutboundWebhook or the Endpoint this delivery goes to."""
        return self.webhook if self.webhook_id else self.endpoint

    def redeliver(self):
        """A fresh delivery of the same body with the same webhook-id (it is the same event, and
        receivers de-duplicate on it), due now; returns it (webhooks.outbound.dispatch.redeliver
        also wakes a drain for it)."""
        return Delivery.objects.create(
            webhook_id=self.webhook_id,
            endpoint_id=self.endpoint_id,
            source_event_id=self.source_event_id,
            kind=self.kind,
            chat_id=self.chat_id,
            message_count=self.message_count,
            redelivery_of=self,
            event_id=self.event_id,
            body=self.body,
        )


class Attempt(models.Model):
    """One POST made for a delivery: everything sent and received (O8)."""

    BODY_LIMIT = 20 * 1024

    # Every attempt writes each index once, so none is kept twice: the log's own indexes below
    # begin with the webhook and the endpoint, and serve their foreign keys too.
    webhook = models.ForeignKey(
        OutboundWebhook,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="attempts",
        db_index=False,
    )
    endpoint = models.ForeignKey(
        "endpoints.Endpoint",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="attempts",
        db_index=False,
    )
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    at = models.DateTimeField(default=timezone.now)
    url = models.CharField(max_length=2000)
    request_headers = models.JSONField(default=dict)
    request_body = models.TextField()
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_headers = models.JSONField(default=dict)
    response_body = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    succeeded = models.BooleanField(default=False)

    class Meta:
        indexes = [
            models.Index(fields=["webhook", "-id"], name="attempt_latest"),
            models.Index(fields=["endpoint", "-id"], name="attempt_endpoint_latest"),
        ]

    def __str__(self):
        return f"{self.delivery.event_id} #{self.number}"

    @property
    def sent_body(self):
        """The body this attempt POSTed: its delivery's (older rows kept their own copy)."""
        return self.request_body or self.delivery.body

    @property
    def outcome(self):
        """Status code or error, as the page shows it."""
        return str(self.status) if self.status and not self.error else self.error

    def as_log_entry(self):
        delivery = self.delivery
        return {
            "at": self.at.isoformat(),
            "delivery": {
                "webhook_id": delivery.event_id,
                "kind": delivery.kind,
                "chat_id": str(delivery.chat_id or ""),
                "message_count": delivery.message_count,
                "attempt": self.number,
                "state": delivery.state,
            },
            "request": {
                "method": "POST",
                "url": self.url,
                "headers": self.request_headers,
                "body": self.sent_body,
            },
            "response": {
                "status": self.status,
                "headers": self.response_headers,
                "body": self.response_body,
            },
            "duration_ms": self.duration_ms,
            "error": self.error,
            "succeeded": self.succeeded,
        }


class PendingMessage(models.Model):
    """A message waiting for its aggregation window to close (O4). The row is the promise that it
    will be bundled exactly once: bundling creates the delivery and deletes the row together."""

    webhook = models.ForeignKey(
        OutboundWebhook, on_delete=models.CASCADE, related_name="pending_messages"
    )
    chat = models.ForeignKey(Chat, on_delete=models.CASCADE, related_name="+")
    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="+")
    timestamp = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["webhook", "timestamp"], name="pending_window")]

    def __str__(self):
        return f"{self.message_id} waiting in {self.webhook_id}"
