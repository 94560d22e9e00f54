"""A WAHA session being linked, then linked: where WAHA runs, the secret URL and HMAC key its
events arrive with, and what its session's status says about the account (whatsapp.models
imports it, so it is one of the app's models)."""

import hashlib
import secrets

from django.conf import settings
from django.db import models, transaction

from timelines.models import Workspace
from whatsapp.models import Account
from whatsapp.phones import normalize_phone

STATUS_LENGTH = 64


def new_secret():
    return secrets.token_urlsafe(32)  # 256 bits: the URL path is the first credential


def secret_digest(secret):
    """What a WAHA connection is looked up by: comparing digests in an index reveals nothing
    about how much of a guessed secret is right, unlike comparing the secrets themselves."""
    return hashlib.sha256(str(secret).encode("utf-8", "replace")).hexdigest()


class WahaConnection(models.Model):
    """A WAHA session being linked by QR code, then linked: where WAHA runs, and the secret URL
    and HMAC key its events arrive with. The account only exists once WhatsApp has said which
    phone number scanned the code, so this row carries the connection until then."""

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="waha_connections"
    )
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.CASCADE, related_name="waha_connections"
    )
    base_url = models.URLField("WAHA URL", max_length=500)
    api_key = models.CharField("API key", max_length=200, blank=True)
    session = models.CharField(max_length=100, default="default")
    # Kept in clear (it goes into the webhook URL WAHA is given); looked up only by its digest.
    secret = models.CharField(max_length=64, unique=True, default=new_secret)
    secret_sha256 = models.CharField(max_length=64, unique=True, editable=False)
    hmac_key = models.CharField("HMAC key", max_length=100, blank=True, default=new_secret)
    # WAHA's session status, as WAHA names it: new steps appear (PASSKEY_CONFIRMATION_REQUIRED,
    # 29 characters), so any name up to STATUS_LENGTH is kept and shown as it is.
    status = models.CharField(max_length=STATUS_LENGTH, default="STARTING")
    # What GET /api/server/version answered at connect time: {version, engine, tier}.
    server = models.JSONField("WAHA server", default=dict, blank=True)
    # The reconciliation sweep (whatsapp/waha_sweep.py): when it last read this session back,
    # how many messages that no event had brought it stored then, and in all.
    swept_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_recovered = models.PositiveIntegerField("recovered by the last sweep", default=0)
    recovered = models.PositiveIntegerField("recovered by sweeps in all", default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "WAHA connection"

    def __str__(self):
        return f"{self.session} at {self.base_url}"

    def save(self, *args, **kwargs):
        digest = secret_digest(self.secret)
        if self.secret_sha256 != digest:
            self.secret_sha256 = digest
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "secret_sha256"}
        super().save(*args, **kwargs)

    @classmethod
    def by_secret(cls, secret):
        """The connection whose events URL carries `secret`, or None (constant time: the
        secret is never compared character by character, SPEC P5)."""
        return (
            cls.objects.filter(secret_sha256=secret_digest(secret))
            .select_related("account")
            .first()
        )

    @property
    def transport_settings(self):
        """What the waha transport of the linked account needs (Account.transport_settings)."""
        return {
            "base_url": self.base_url,
            "api_key": self.api_key,
            "session": self.session,
            "webhook_secret": self.secret,
            "hmac_key": self.hmac_key,
            "server": self.server,
        }

    def link(self, phone, restrictions=None):
        """WhatsApp says `phone` scanned the code: make (or take over) the workspace's account
        for it, point it at this WAHA session and mark it connected. Returns the account."""
        phone = normalize_phone(phone)
        with transaction.atomic():
            account, _ = Account.objects.select_for_update(of=("self",), no_key=True).get_or_create(
                workspace=self.workspace, phone=phone, defaults={"connected_by": self.created_by}
            )
            account.transport = "waha"
            account.transport_settings = {**self.transport_settings, **_restricted(restrictions)}
            account.connected_by = account.connected_by or self.created_by
            account.save(update_fields=["transport", "transport_settings", "connected_by"])
            # One live connection per account: an older secret URL stops working now.
            WahaConnection.objects.filter(account=account).exclude(pk=self.pk).delete()
            self.account, self.status = account, "WORKING"
            self.save(update_fields=["account", "status", "updated_at"])
            if not account.is_connected:
                account.mark_connected(
                    reason="The WAHA session is WORKING."
                )  # wakes the paced sender for the account on commit
        return account

    def record_status(self, status, restrictions=None):
        """A session status other than WORKING: anything but STARTING means the phone is gone,
        and the account's sending pauses until WORKING again."""
        with transaction.atomic():
            self.status = str(status)[:STATUS_LENGTH]
            self.save(update_fields=["status", "updated_at"])
            account = self.account
            if account is None:
                return
            if restrictions:
                account.transport_settings = {
                    **account.transport_settings,
                    **_restricted(restrictions),
                }
                account.save(update_fields=["transport_settings"])
            if status in DISCONNECTED_STATUSES and account.is_connected:
                account.mark_disconnected(reason=f"The WAHA session is {status}.")


DISCONNECTED_STATUSES = ("STOPPED", "FAILED", "SCAN_QR_CODE")


def _restricted(restrictions):
    """WhatsApp's limits on starting new chats, as WAHA reports them in `me`."""
    return {"restrictions": restrictions} if restrictions else {}
