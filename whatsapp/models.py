"""WhatsApp accounts, chats and messages."""

import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

from timelines.models import Workspace
from timelines.site import site_url
from whatsapp.jids import InvalidJid, contact_jid, is_group_jid, jid_user, normalize_jid
from whatsapp.phones import InvalidPhone, normalize_phone
from whatsapp.signals import chat_responsible_changed
from whatsapp.validators import validate_phone, validate_time_zone  # noqa: E402

PAUSE_ALL, PAUSE_NEW_CONTACTS = "all", "new_contacts"
PAUSES = [("", "Not paused"), (PAUSE_ALL, "All sending"), (PAUSE_NEW_CONTACTS, "New contacts")]


def new_message_id():
    """'wa_backend:' + 20 uppercase hex characters, the form TimelinesAI answers with."""
    return "wa_backend:" + secrets.token_hex(10).upper()


class Account(models.Model):
    """A phone number connected to a workspace through a transport."""

    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    STATUSES = [(CONNECTED, "Connected"), (DISCONNECTED, "Disconnected")]

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="accounts")
    phone = models.CharField(max_length=20, validators=[validate_phone])
    # The member who connected the account; reported as whatsapp_account.full_name / .email.
    connected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="connected_accounts",
    )
    status = models.CharField(max_length=20, choices=STATUSES, default=DISCONNECTED)
    last_connected_at = models.DateTimeField(null=True, blank=True)
    transport = models.CharField(max_length=30, default="simulator")
    transport_settings = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    # Paced sender state (whatsapp/sender/holds.py): when this account may send next (indexed,
    # the dispatchers poll it; NULL when idle), who holds the right to send for it and until
    # when, and when the gap after its last send ends.
    next_send_at = models.DateTimeField(null=True, blank=True, db_index=True)
    ready_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_token = models.CharField(max_length=64, blank=True)

    # The governor's policy (SPEC G1, whatsapp/governor/): set by the owner, an admin or
    # `account_policy`. The defaults keep the seed's behaviour: no cap, no quiet hours, no checks.
    new_contacts_per_day = models.PositiveIntegerField(
        "new contacts per day",
        null=True,
        blank=True,
        help_text="First messages to contacts this account never exchanged a message with, per "
        "day in its time zone; empty for no cap.",
    )
    quiet_from = models.TimeField("quiet hours from", null=True, blank=True)
    quiet_to = models.TimeField("quiet hours to", null=True, blank=True)
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    check_numbers = models.BooleanField(
        "check new numbers",
        default=False,
        help_text="Ask WhatsApp whether a new contact's "
        "number is on WhatsApp before the first message.",
    )
    # A pause (G3): by the owner (until they resume), or by the governor when WhatsApp restricts
    # the account (until the end WhatsApp reported). "new_contacts" holds only first messages.
    paused = models.CharField(max_length=12, choices=PAUSES, blank=True)
    paused_until = models.DateTimeField(null=True, blank=True, db_index=True)
    pause_reason = models.CharField(max_length=300, blank=True)
    # First messages to new contacts sent on `new_contacts_day` (a date in the account's zone).
    new_contacts_day = models.DateField(null=True, blank=True, editable=False)
    new_contacts_sent = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["workspace", "phone"]
        verbose_name = "WhatsApp account"
        constraints = [
            models.UniqueConstraint(fields=["workspace", "phone"], name="one_account_per_phone")
        ]

    def __str__(self):
        return self.phone

    def save(self, *args, **kwargs):
        self.phone = normalize_phone(self.phone)
        super().save(*args, **kwargs)

    @property
    def is_connected(self):
        return self.status == self.CONNECTED

    def mark_connected(self, reason=""):
        previous = self.status
        self.status = self.CONNECTED
        self.last_connected_at = timezone.now()
        with transaction.atomic():
            self.save(update_fields=["status", "last_connected_at"])
            if previous != self.status:
                _announce_status(self, previous, reason)  # wakes the paced sender on commit

    def mark_disconnected(self, reason=""):
        previous = self.status
        self.status = self.DISCONNECTED
        with transaction.atomic():
            self.save(update_fields=["status"])
            if previous != self.status:
                _announce_status(self, previous, reason)

    @property
    def member_name(self):
        user = self.connected_by
        return (user.get_full_name() or user.get_username()) if user else ""

    @property
    def member_email(self):
        return self.connected_by.email if self.connected_by else ""

    def get_transport(self):
        from whatsapp.transports import get_transport

        return get_transport(self)


def _announce_status(account, previous, reason):
    from whatsapp.signals import account_status_changed

    account_status_changed.send(sender=Account, account=account, previous=previous, reason=reason)


class ChatQuerySet(models.QuerySet):
    def of_workspace(self, workspace):
        return self.filter(account__workspace=workspace)

    def with_last_message(self):
        """Chats annotated with their latest message (last_at, last_text, last_attachment,
        last_direction, last_status), most recently active first; one query however many chats."""
        last = Message.objects.filter(chat=models.OuterRef("pk")).order_by("-timestamp", "-id")
        return self.annotate(
            last_at=models.Subquery(last.values("timestamp")[:1]),
            last_text=models.Subquery(last.values("text")[:1]),
            last_attachment=models.Subquery(last.values("attachment_name")[:1]),
            last_direction=models.Subquery(last.values("direction")[:1]),
            last_status=models.Subquery(last.values("status")[:1]),
        ).order_by(models.F("last_at").desc(nulls_last=True), "name", "pk")


class Chat(models.Model):
    """A direct chat with a contact or a group chat, on one account.

    The primary key is the public, numeric `chat_id`.
    """

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="chats")
    jid = models.CharField(max_length=80)
    phone = models.CharField(max_length=20, blank=True)  # empty for groups
    name = models.CharField(max_length=200)
    is_group = models.BooleanField(default=False)
    responsible = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="responsible_chats",
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # What the transport answered when the governor checked the number (G4): kept, so a number
    # is asked about once.
    number_exists = models.BooleanField(null=True, blank=True, editable=False)

    objects = ChatQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["account", "jid"], name="one_chat_per_jid")]

    def __str__(self):
        return self.name

    @property
    def chat_id(self):
        return str(self.pk)

    @property
    def workspace(self):
        return self.account.workspace

    @property
    def chat_url(self):
        return f"{site_url()}/chat/{self.pk}/messages/"

    @property
    def responsible_name(self):
        user = self.responsible
        return (user.get_full_name() or user.get_username()) if user else ""

    @property
    def responsible_email(self):
        return self.responsible.email if self.responsible else ""

    def assign(self, user):
        """Make `user` (a member of the chat's workspace, or None) responsible for the chat.

        Saves and announces the change (whatsapp.signals.chat_responsible_changed, with the
        user before) in one transaction; assigning the one already responsible changes nothing.
        Raises ValidationError for a user who is not a member of the workspace.
        """
        if user is not None and not self.account.workspace.is_member(user):
            raise ValidationError(f"{user} is not a member of the workspace {self.workspace}.")
        with transaction.atomic():
            chat = Chat.objects.select_for_update(of=("self",), no_key=True).get(pk=self.pk)
            previous = chat.responsible
            if (previous and previous.pk) == (user and user.pk):
                self.responsible = previous
                return False
            chat.responsible = self.responsible = user
            chat.save(update_fields=["responsible"])
            chat_responsible_changed.send(sender=Chat, chat=self, previous=previous)
        return True

    def clean(self):
        """Normalise the JID and derive the rest from it (forms, the admin).

        A direct chat's phone is always its JID's number, so the two cannot disagree; a group has
        no phone. The responsible member must belong to the chat's workspace.
        """
        if self.responsible_id and self.account_id:
            if not self.account.workspace.is_member(self.responsible):
                raise ValidationError(
                    {"responsible": "Only a member of the chat's workspace can be responsible."}
                )
        try:
            self.jid = normalize_jid(self.jid)
        except InvalidJid as exc:
            raise ValidationError({"jid": str(exc)}) from None
        self.is_group = is_group_jid(self.jid)
        if self.is_group:
            self.phone = ""
            return
        try:
            self.phone = normalize_phone("+" + jid_user(self.jid))
        except InvalidPhone as exc:
            raise ValidationError({"jid": str(exc)}) from None

    @classmethod
    def get_or_create_direct(cls, account, phone, name="", direction="received"):
        """The direct chat with `phone` on `account`, created if needed: (chat, created).
        `direction` says who started a new chat ("sent": we did, "received": they did)."""
        phone = normalize_phone(phone)
        # No savepoint of our own (get_or_create makes one for its insert): round trips count
        # on the inbound endpoint's path.
        with transaction.atomic(savepoint=False):
            chat, created = cls.objects.get_or_create(
                account=account, jid=contact_jid(phone), defaults=cls.direct_defaults(phone, name)
            )
            if created:
                chat.announce_created(direction)
            elif name and name != phone and chat.name in ("", phone):
                chat.learn_name(name)
        return chat, created

    def learn_name(self, name):
        """Name a chat that knows only the number (one an integrator started by phone) after
        the name the contact chose on WhatsApp (SPEC M7); a name anyone set is kept."""
        Chat.objects.filter(pk=self.pk, name=self.name).update(name=name)
        self.name = name

    def announce_created(self, direction):
        """Tell the apps above that this chat was created; call inside the transaction that
        created it."""
        from whatsapp.signals import chat_created

        chat_created.send(sender=Chat, chat=self, direction=direction)

    @staticmethod
    def direct_defaults(phone, name=""):
        """The fields of a new direct chat with `phone` (an E.164 number) besides its JID."""
        return {"phone": phone, "name": name or phone, "is_group": False}

    @classmethod
    def get_or_create_group(cls, account, jid, name="", direction="received"):
        jid = normalize_jid(jid)
        with transaction.atomic(savepoint=False):
            chat, created = cls.objects.get_or_create(
                account=account, jid=jid, defaults={"name": name or jid, "is_group": True}
            )
            if created:
                chat.announce_created(direction)
        return chat, created


class Message(models.Model):
    SENT = "sent"
    RECEIVED = "received"
    DIRECTIONS = [(SENT, "Sent"), (RECEIVED, "Received")]

    # Delivery status of messages we send; received messages have none ("").
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"
    QUEUED = "queued"
    SENDING = "sending"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    STATUSES = [
        (SCHEDULED, "Scheduled"),
        (QUEUED, "Queued"),
        (SENDING, "Sending"),
        (SENT, "Sent"),
        (DELIVERED, "Delivered"),
        (READ, "Read"),
        (FAILED, "Failed"),
        (CANCELLED, "Cancelled"),
    ]

    ORIGIN_INBOUND_WEBHOOK = "inbound_webhook"
    ORIGIN_PHONE = "phone"
    ORIGIN_WEB = "web"
    ORIGIN_API = "api"
    ORIGIN_CONTACT = "contact"
    ORIGINS = [
        (ORIGIN_INBOUND_WEBHOOK, "Inbound webhook"),
        (ORIGIN_PHONE, "Phone app"),
        (ORIGIN_WEB, "Web UI"),
        (ORIGIN_API, "API"),
        (ORIGIN_CONTACT, "Contact"),
    ]

    chat = models.ForeignKey(Chat, on_delete=models.CASCADE, related_name="messages")
    # The chat's account, kept on the message (a chat never changes account) so that an
    # account's messages waiting to be sent are found in its own index (message_pending),
    # whatever the number of its chats and of other accounts' waiting messages. No index of its
    # own: only the waiting ones are looked up by account.
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="+", db_index=False, editable=False
    )
    message_id = models.CharField(max_length=64, unique=True, default=new_message_id)
    # The transport's own id for the message (WAHA's id, the simulator's), to match events.
    external_id = models.CharField(max_length=200, blank=True, db_index=True)
    direction = models.CharField(max_length=10, choices=DIRECTIONS)
    timestamp = models.DateTimeField(default=timezone.now, db_index=True)
    stored_at = models.DateTimeField(auto_now_add=True)
    origin = models.CharField(max_length=20, choices=ORIGINS)
    # True when storing this message created its chat (outbound payloads' is_new_chat).
    created_chat = models.BooleanField(default=False)

    sender_name = models.CharField(max_length=200, blank=True)
    sender_phone = models.CharField(max_length=20, blank=True)
    recipient_name = models.CharField(max_length=200, blank=True)
    recipient_phone = models.CharField(max_length=20, blank=True)
    text = models.TextField(blank=True)

    # Attachment: for messages to send, the URL to fetch it from; for every message, what it is.
    attachment_url = models.URLField(max_length=2000, blank=True)
    attachment_name = models.CharField(max_length=255, blank=True)
    attachment_mime = models.CharField(max_length=100, blank=True)
    attachment_size = models.PositiveIntegerField(null=True, blank=True)

    status = models.CharField(max_length=10, choices=STATUSES, blank=True, db_index=True)
    error = models.TextField(blank=True)
    credits = models.PositiveSmallIntegerField(default=0)  # reserved for sending it
    send_attempts = models.PositiveSmallIntegerField(default=0)
    retry_at = models.DateTimeField(null=True, blank=True)  # no send before this (backoff)
    queued_at = models.DateTimeField(null=True, blank=True)
    sending_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    # G5: not before `send_at` (status `scheduled` until then); failed as expired if not handed
    # to WhatsApp by `expires_at`.
    send_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    # G2: a queued message the governor set aside (a first message to a new contact while new
    # contacts are held), out of the sender's index until `hold_until` (None: until resumed).
    hold_reason = models.CharField(max_length=20, blank=True)
    hold_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["timestamp", "id"]
        indexes = [
            models.Index(fields=["chat", "timestamp"], name="message_chat_time"),
            models.Index(fields=["status", "queued_at"], name="message_status_queue"),
            # The paced sender's "oldest pending message of this account": only the few
            # messages waiting to be sent are in it.
            models.Index(
                fields=["account", "id"],
                condition=models.Q(status__in=["queued", "sending"], hold_reason=""),
                name="message_pending",
            ),
            # The governor's: messages set aside, by account; scheduled ones, by time; the ones
            # that may expire before they leave.
            models.Index(
                fields=["account", "id"],
                condition=models.Q(status="queued") & ~models.Q(hold_reason=""),
                name="message_held",
            ),
            models.Index(
                fields=["send_at", "id"],
                condition=models.Q(status="scheduled"),
                name="message_scheduled",
            ),
            models.Index(
                fields=["expires_at"],
                condition=models.Q(status__in=["scheduled", "queued"], expires_at__isnull=False),
                name="message_expiring",
            ),
        ]

    def __str__(self):
        return self.message_id

    def save(self, *args, **kwargs):
        if self.account_id is None and self.chat_id is not None:
            self.account_id = self.chat.account_id
        super().save(*args, **kwargs)

    @property
    def has_attachment(self):
        return bool(self.attachment_name or self.attachment_url)

    @property
    def file_follows(self):
        """A received or phone-typed message's file is fetched after the message is stored
        (SPEC M1): the message is complete, and announced with it, once the file is settled."""
        return self.has_attachment and self.origin in FILE_FOLLOWS

    @property
    def permalink_anchor(self):
        """The fragment that points at this message on its chat page."""
        return f"m-{self.message_id.split(':')[-1]}"

    def position_in_chat(self):
        """How many messages of its chat come before this one (in the chat's order)."""
        earlier = models.Q(timestamp__lt=self.timestamp) | models.Q(
            timestamp=self.timestamp, id__lt=self.id
        )
        return Message.objects.filter(earlier, chat_id=self.chat_id).count()

    @property
    def permalink_path(self):
        """The permalink without the site's address, for links between the app's own pages."""
        return f"/chat/{self.chat_id}/messages/?around={self.message_id}#{self.permalink_anchor}"

    @property
    def permalink(self):
        """An absolute link that opens the chat page at this message (aggregation text)."""
        return f"{self.chat.chat_url}?around={self.message_id}#{self.permalink_anchor}"


# Where a message's file comes from the transport after the message (whatsapp.media).
FILE_FOLLOWS = (Message.ORIGIN_CONTACT, Message.ORIGIN_PHONE, Message.ORIGIN_API)


# The app's models, one module each beyond these (imported here, so Django finds them).
from whatsapp.early_acks import EarlyAck  # noqa: E402,F401
from whatsapp.media.models import MediaFile  # noqa: E402,F401
from whatsapp.waha_connection import (  # noqa: E402,F401
    STATUS_LENGTH,
    WahaConnection,
    new_secret,
    secret_digest,
)
