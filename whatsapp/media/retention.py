"""Retention (SPEC M5): a daily schedule removes the files stored more than MEDIA_RETENTION_DAYS
ago. The message keeps its file's name, type and size and says the file was removed; its link
answers 410. Files go in batches, the storage first and the row after, so a run that dies
midway leaves nothing pointing at a missing file for long: the next run finishes the batch."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Sum
from django.utils import timezone

from whatsapp.media import storage
from whatsapp.media.models import MediaFile

log = logging.getLogger(__name__)

BATCH = 500


def remove_expired(now=None):
    """Remove every file older than the retention; how many were removed."""
    now = now or timezone.now()
    cut = now - timedelta(days=settings.MEDIA_RETENTION_DAYS)
    removed = 0
    while True:
        batch = list(
            MediaFile.objects.filter(state=MediaFile.STORED, stored_at__lt=cut)
            .order_by("stored_at")
            .values_list("pk", "name", "thumbnail")[:BATCH]
        )
        for _, name, thumbnail in batch:
            try:
                storage.delete(name)
                storage.delete(thumbnail)
            except Exception:  # the object store is down: the row waits for the next run
                log.exception("retention could not delete %s", name)
                return removed
        removed += MediaFile.objects.filter(
            pk__in=[pk for pk, _, _ in batch], state=MediaFile.STORED
        ).update(state=MediaFile.REMOVED, removed_at=now)
        if len(batch) < BATCH:
            return removed


def used_bytes(workspace):
    """What the workspace's files take in the storage now."""
    total = MediaFile.objects.filter(workspace=workspace, state=MediaFile.STORED).aggregate(
        total=Sum("size")
    )["total"]
    return total or 0
