"""The inbound webhook: a workspace's secret URL, its attempt log and its idempotency keys."""

import hashlib
import json
import secrets
from datetime import timedelta

from django.db import connection, models, transaction
from django.urls import reverse
from django.utils import timezone

from timelines.models import Workspace
from timelines.site import site_url

# Attempts kept per workspace (I4) and the most of a request body we keep (and accept, I6).
ATTEMPTS_KEPT = 100
MAX_BODY_BYTES = 64 * 1024
IDEMPOTENCY_TTL = timedelta(hours=24)


def new_token():
    """32 URL-safe characters carrying 192 bits of randomness (I1 asks for at least 128)."""
    return secrets.token_urlsafe(24)


def token_digest(token):
    """What we look a token up by. Comparing digests in an index reveals nothing about how much
    of a guessed token is right, unlike comparing the tokens themselves character by character."""
    return hashlib.sha256(str(token).encode("utf-8", "replace")).hexdigest()


class InboundWebhook(models.Model):
    """A workspace's inbound URL (one per workspace) and whether it is switched on."""

    workspace = models.OneToOneField(
        Workspace, on_delete=models.CASCADE, related_name="inbound_webhook"
    )
    # Kept in clear so the owner can see the URL again; looked up only by its digest.
    token = models.CharField(max_length=64)
    token_sha256 = models.CharField(max_length=64, unique=True)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    regenerated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "inbound webhook"

    def __str__(self):
        return f"Inbound webhook of {self.workspace}"

    @classmethod
    def for_workspace(cls, workspace):
        """The workspace's webhook, generating its first URL if it has none."""
        token = new_token()
        webhook, _ = cls.objects.get_or_create(
            workspace=workspace, defaults={"token": token, "token_sha256": token_digest(token)}
        )
        return webhook

    @classmethod
    def by_token(cls, token):
        """The webhook whose URL carries `token`, or None."""
        webhooks = cls.objects.select_related("workspace")
        return webhooks.filter(token_sha256=token_digest(token)).first()

    @property
    def path(self):
        return reverse("inbound:endpoint", args=[self.token])

    @property
    def url(self):
        return site_url() + self.path

    def regenerate(self):
        """A new secret URL; the old one answers 404 from now on (I1)."""
        with transaction.atomic():
            self.token = new_token()
            self.token_sha256 = token_digest(self.token)
            self.regenerated_at = timezone.now()
            self.save(update_fields=["token", "token_sha256", "regenerated_at"])

    def set_enabled(self, enabled):
        self.enabled = bool(enabled)
        self.save(update_fields=["enabled"])


class Attempt(models.Model):
    """One request to a workspace's inbound URL, as received and as answered (I3, I4)."""

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="inbound_attempts"
    )
    created_at = models.DateTimeField(default=timezone.now)
    method = models.CharField(max_length=10)
    # The raw body, decoded as UTF-8 (undecodable bytes replaced), cut at MAX_BODY_BYTES.
    body = models.TextField(blank=True)
    body_size = models.PositiveIntegerField(default=0)  # bytes received, before the cut
    headers = models.JSONField(default=dict, blank=True)  # the ones that help troubleshooting
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    status = models.PositiveSmallIntegerField()
    response = models.JSONField(default=dict)
    message_id = models.CharField(max_length=64, blank=True)
    # Which recipient field was used: chat_id, jid, phone or chat_name ("" when none was reached).
    recipient_kind = models.CharField(max_length=10, blank=True)
    replayed = models.BooleanField(default=False)  # answered from a stored idempotent response

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["workspace", "-id"], name="inbound_attempt_latest")]

    def __str__(self):
        return f"{self.method} → {self.status} ({self.created_at:%Y-%m-%d %H:%M:%S})"

    @property
    def error(self):
        return "" if self.status == 200 else str(self.response.get("message", ""))

    @property
    def summary(self):
        """A short description of the request, for lists (I3)."""
        text = " ".join(self.body.split())
        return text[:80] + ("…" if len(text) > 80 else "")

    @property
    def recipient(self):
        """The recipient the request named (its `recipient_kind` field's value), for lists (I3)."""
        if not self.recipient_kind:
            return ""
        try:
            return str(json.loads(self.body).get(self.recipient_kind, ""))
        except (ValueError, AttributeError):  # not JSON, or not an object
            return ""

    def as_log_entry(self):
        return {
            "at": self.created_at.isoformat(),
            "request": {
                "method": self.method,
                "ip": self.ip,
                "user_agent": self.user_agent,
                "headers": self.headers,
                "body": self.body,
                "body_size": self.body_size,
                "body_truncated": self.body_size > MAX_BODY_BYTES,
            },
            "response": {"status": self.status, "body": self.response},
            "message_id": self.message_id or None,
            "recipient_kind": self.recipient_kind or None,
            "idempotent_replay": self.replayed,
        }

    @classmethod
    def latest(cls, workspace, limit=ATTEMPTS_KEPT):
        return cls.objects.filter(workspace=workspace).order_by("-id")[:limit]

    @classmethod
    def prune(cls, workspace_id, keep=ATTEMPTS_KEPT):
        """Delete all but the `keep` latest attempts of a workspace; returns how many went.

        One plain statement (no collector, no transaction of its own): it runs after every
        request, and an attempt has nothing that depends on it.
        """
        table = cls._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {table} WHERE workspace_id = %s AND id <= "
                f"(SELECT id FROM {table} WHERE workspace_id = %s ORDER BY id DESC "
                "LIMIT 1 OFFSET %s)",
                [workspace_id, workspace_id, keep],
            )
            return cursor.rowcount


class IdempotencyKey(models.Model):
    """The first accepted answer to a request with an Idempotency-Key header (I13)."""

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="inbound_idempotency_keys"
    )
    key = models.CharField(max_length=255)
    body_sha256 = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField()
    response = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "key"], name="one_idempotency_key")
        ]

    def __str__(self):
        return self.key

    @property
    def expired(self):
        return self.created_at <= timezone.now() - IDEMPOTENCY_TTL

    @classmethod
    def purge_expired(cls):
        return cls.objects.filter(created_at__lte=timezone.now() - IDEMPOTENCY_TTL).delete()[0]
