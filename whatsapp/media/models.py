"""A message's file (SPEC M1–M5): where it is kept in the one storage, or why it is not.

A received (or phone-typed) message's file starts `pending`: the transport still has it and a
worker fetches it (whatsapp/media/downloads.py). It ends `stored` (its bytes in the storage under
`name`), or `unavailable` with the reason; a stored file becomes `removed` when retention takes it
(whatsapp/media/retention.py). The message keeps the file's name, type and size in any case, and
is never lost for its file. A file we sent is recorded `stored` when the sender has its bytes.
"""

from datetime import timedelta

from django.db import models, transaction
from django.utils import timezone

from timelines.models import Workspace
from whatsapp.signals import media_settled

# A failed download is tried again after these delays (seconds); after the last one it is
# unavailable. WAHA keeps its copy for minutes, and asking it again costs one call.
RETRY_DELAYS = (30, 120, 600, 3600)


class MediaFile(models.Model):
    PENDING = "pending"
    STORED = "stored"
    UNAVAILABLE = "unavailable"
    REMOVED = "removed"
    STATES = [
        (PENDING, "To download"),
        (STORED, "Stored"),
        (UNAVAILABLE, "Unavailable"),
        (REMOVED, "Removed by retention"),
    ]

    message = models.OneToOneField(
        "whatsapp.Message", on_delete=models.CASCADE, primary_key=True, related_name="media"
    )
    # The workspace, kept here so that its storage use is one indexed sum.
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=12, choices=STATES, default=PENDING)
    name = models.CharField(max_length=500, blank=True)  # in the storage
    thumbnail = models.CharField(max_length=500, blank=True)  # an image's, made when first shown
    size = models.PositiveBigIntegerField(null=True, blank=True)
    source = models.TextField(blank=True)  # where the transport offered it
    ref = models.CharField(max_length=300, blank=True)  # the transport's id, to ask again
    reason = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    stored_at = models.DateTimeField(null=True, blank=True)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # The download worker's "what is due": only the pending files are in it.
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(state="pending"),
                name="media_due",
            ),
            # Retention's "stored before the cut", and the owner's storage use.
            models.Index(fields=["state", "stored_at"], name="media_state_stored"),
            models.Index(fields=["workspace", "state"], name="media_workspace_state"),
        ]

    def __str__(self):
        return f"{self.message_id}: {self.state}"

    @classmethod
    def expect(cls, message, source="", ref=""):
        """A received file for the worker to fetch, due at once."""
        return cls.objects.create(
            message=message,
            workspace_id=message.chat.account.workspace_id,
            source=source,
            ref=ref[:300],
            next_attempt_at=timezone.now(),
        )

    @classmethod
    def keep(cls, message, name, size):
        """A file already in the storage (sent, uploaded, or given by the simulator)."""
        media, _ = cls.objects.update_or_create(
            message=message,
            defaults={
                "workspace_id": message.chat.account.workspace_id,
                "state": cls.STORED,
                "name": name,
                "size": size,
                "stored_at": timezone.now(),
                "next_attempt_at": None,
            },
        )
        return media

    def stored(self, name, size, mime=""):
        """The worker has the file: record it on the message too, and announce the message."""
        with transaction.atomic():
            moved = MediaFile.objects.filter(pk=self.pk, state=self.PENDING).update(
                state=self.STORED, name=name, size=size, stored_at=timezone.now(), reason=""
            )
            if moved:
                self.settle(size=size, mime=mime)
        return bool(moved)

    def failed(self, reason, permanent=False, now=None):
        """A download that did not work: tried again later, or unavailable for good."""
        now = now or timezone.now()
        attempts = self.attempts + 1
        gone = permanent or attempts > len(RETRY_DELAYS)
        fields = {"attempts": attempts, "reason": reason[:2000]}
        if gone:
            fields.update(state=self.UNAVAILABLE, next_attempt_at=None)
        else:
            fields["next_attempt_at"] = now + timedelta(seconds=RETRY_DELAYS[attempts - 1])
        with transaction.atomic():
            moved = MediaFile.objects.filter(pk=self.pk, state=self.PENDING).update(**fields)
            if moved and gone:
                self.settle()
        return gone

    def settle(self, size=None, mime=""):
        """Record what the file turned out to be on its message and announce the message."""
        message = self.message
        fields = []
        if size is not None:
            message.attachment_size = size
            fields.append("attachment_size")
        if mime and not message.attachment_mime:
            message.attachment_mime = mime[:100]
            fields.append("attachment_mime")
        if fields:
            message.save(update_fields=fields)
        media_settled.send(sender=MediaFile, message=message)
