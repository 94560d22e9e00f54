"""Webhooks v2 (SPEC W1–W5): a workspace's endpoints, the events they are sent, and the API
tokens its integrations manage them with. Deliveries and attempts are the outbound app's rows
(webhooks.outbound.models): one delivery machinery for v1 and v2."""

import hashlib
import hmac
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

from timelines.models import Workspace
from webhooks.endpoints import event_types
from webhooks.outbound import signing
from webhooks.outbound.models import validate_webhook_url
from webhooks.outbound.targets import SWITCHED_OFF_BY_OWNER, DeliveryTarget
from whatsapp.models import Account

LOG_SIZE = 1000  # activations in the log download and the page's figures (W4)
LOG_DAYS = 10  # ... and how long they are kept


def endpoints_max():
    return settings.WEBHOOK_ENDPOINTS_MAX


class Endpoint(DeliveryTarget):
    LOG_SIZE = LOG_SIZE

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="endpoints")
    url = models.CharField("URL", max_length=2000, validators=[validate_webhook_url])
    event_type = models.CharField(max_length=40, choices=event_types.CHOICES)
    enabled = models.BooleanField(default=True)
    secret = models.CharField("signing secret", max_length=100, default=signing.new_secret)
    # W5: only events of this WhatsApp account (all accounts when empty).
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["pk"]
        verbose_name = "webhook endpoint (v2)"
        verbose_name_plural = "webhook endpoints (v2)"
        indexes = [models.Index(fields=["workspace", "event_type"], name="endpoint_subscribed")]

    def __str__(self):
        return f"{self.event_type} → {self.url}"

    def as_api_dict(self, with_secret=False):
        """W1's object, as TimelinesAI's API answers it; with the signing secret only in the
        answers that just made it (creation, rotation)."""
        data = {
            "id": self.pk,
            "event_type": self.event_type,
            "url": self.url,
            "enabled": self.enabled,
            "errors_counter": self.consecutive_failures,
        }
        if with_secret:
            data["secret"] = self.secret
        return data

    def as_dict(self):
        """The CLI's view: the API's object and what only the owner sees."""
        return {
            **self.as_api_dict(with_secret=True),
            "whatsapp_account": self.account.phone if self.account_id else None,
            "disabled_reason": "" if self.enabled else self.disabled_reason,
        }

    def clean(self):
        if self.account_id and self.account.workspace_id != self.workspace_id:
            raise ValidationError({"account": "This WhatsApp account is not in the workspace."})

    @staticmethod
    def send_disabled_email(pk):
        from webhooks.endpoints import emails

        emails.send_disabled_email(pk)

    # -- changes ---------------------------------------------------------------------------------

    @classmethod
    def create(cls, workspace, *, url, event_type, enabled=True, account=None):
        """A new endpoint; ValidationError naming the field when refused (at most
        WEBHOOK_ENDPOINTS_MAX per workspace, counted under the workspace's lock)."""
        with transaction.atomic():
            Workspace.objects.select_for_update(of=("self",), no_key=True).get(pk=workspace.pk)
            if cls.objects.filter(workspace=workspace).count() >= endpoints_max():
                raise ValidationError(
                    {"event_type": f"A workspace has at most {endpoints_max()} webhooks."}
                )
            endpoint = cls(
                workspace=workspace,
                url=(url or "").strip(),
                event_type=event_type,
                enabled=enabled,
                account=account,
            )
            endpoint.full_clean(exclude=["secret", "consecutive_failures", "disabled_reason"])
            endpoint.save()
        return endpoint

    def change(self, off_reason=SWITCHED_OFF_BY_OWNER, **fields):
        """Set any of url, event_type, enabled, account; ValidationError (nothing saved) when
        refused. Switching on resets the failure streak and makes pending deliveries due;
        switching off records `off_reason`: who or what did it (the page, the API, the CLI)."""
        enabled = fields.pop("enabled", None)
        with transaction.atomic():
            for name, value in fields.items():
                setattr(self, name, value.strip() if name == "url" else value)
            # Only the changed fields are checked: the URL's check resolves its host, and a
            # resolver outage must not stop anyone from switching an endpoint off.
            if fields:
                unchanged = [f.name for f in self._meta.fields if f.name not in fields]
                self.full_clean(exclude=unchanged)
            # Only what the owner changed: the drains write the failure streak and the switch-off
            # meanwhile, and a stale copy of those must not undo them.
            self.save(update_fields=[*fields, "updated_at"])
            if enabled is True and not self.enabled:
                self.enable()
            elif enabled is False and self.enabled:
                self.disable(reason=off_reason)
        return self


class Event(models.Model):
    """Something that happened, written in the transaction that made it happen (W2), kept
    LOG_DAYS for replays. `payload` is the body without its `event_type` (each endpoint's body
    names the type it subscribed to)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=40, choices=event_types.CHOICES)
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    chat_id = models.BigIntegerField(null=True, blank=True)  # per-chat order of its deliveries
    message_id = models.BigIntegerField(null=True, blank=True)  # a message's attachment links
    webhook_id = models.CharField(max_length=64, default=signing.new_webhook_id)
    payload = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["workspace", "created_at"], name="event_since")]

    def __str__(self):
        return f"{self.kind} {self.webhook_id}"


def _digest(token):
    return hashlib.sha256(token.encode()).hexdigest()


class ApiToken(models.Model):
    """A workspace API token (W1). Only its SHA-256 is stored; the token is shown once."""

    PREFIX = "tl_"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    digest = models.CharField(max_length=64, unique=True)
    hint = models.CharField(max_length=12)  # the token's first characters, to tell them apart
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API token"
        ordering = ["-pk"]

    def __str__(self):
        return f"{self.name} ({self.hint}…)"

    @classmethod
    def issue(cls, workspace, name, created_by=None):
        """A new token: (row, the token itself, which is never stored)."""
        name = (name or "").strip()
        if not name:
            raise ValidationError({"name": "Give the token a name."})
        token = cls.PREFIX + secrets.token_urlsafe(32)  # 256 bits
        row = cls.objects.create(
            workspace=workspace,
            name=name[:100],
            digest=_digest(token),
            hint=token[:9],
            created_by=created_by,
        )
        return row, token

    @classmethod
    def authenticate(cls, token):
        """The live token row for `token`, or None."""
        if not token or len(token) > 200:
            return None
        digest = _digest(token)
        row = cls.objects.filter(digest=digest, revoked_at=None).select_related("workspace").first()
        if row is None or not hmac.compare_digest(row.digest, digest):
            return None
        cls.objects.filter(pk=row.pk).update(last_used_at=timezone.now())
        return row

    def revoke(self):
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])
