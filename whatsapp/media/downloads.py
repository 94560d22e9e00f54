"""The worker that fetches received files (SPEC M1), after the event was answered, never inside
it. One loop at a time holds the lease "media-downloads" (timelines.workers): it takes the due
files oldest first, downloads each into a temporary file (constant memory), writes it to the
storage, and records it only while its lease still holds (its fencing token): a worker that lost
the lease deletes what it wrote, so a file is stored once. It is started when an event commits a
file to fetch (`wake`), and by the one-minute schedule (`tick`), which also picks up the retries
and whatever a dead worker left.
"""

import logging
import time

from django.db import transaction
from django.utils import timezone

from timelines import workers
from whatsapp.media import fetch, storage
from whatsapp.media.models import MediaFile

log = logging.getLogger(__name__)

LEASE = "media-downloads"
TASK = "whatsapp.media.downloads.run"
RUN_SECONDS = 60  # then the lease is handed to a successor, so a stopping qcluster waits little


def lease_seconds():
    """Longer than one download can last, its storage write included."""
    return fetch.DEADLINE + 60


def wake():
    """Start the worker once the transaction that stored a file to fetch commits."""
    transaction.on_commit(_start)


def _start():
    workers.start_once(LEASE, TASK, seconds=lease_seconds(), timeout=RUN_SECONDS + lease_seconds())


def tick():
    """The one-minute schedule: restart the worker when files are due (retries, a dead worker)."""
    if next_due() is not None:
        _start()
        return True
    return False


def next_due(now=None):
    return (
        MediaFile.objects.filter(
            state=MediaFile.PENDING, next_attempt_at__lte=now or timezone.now()
        )
        .select_related("message__chat__account")
        .order_by("next_attempt_at")
        .first()
    )


def run(name, token):
    """The task: download due files for RUN_SECONDS, holding the lease; how many were tried."""
    token = workers.take(name, lease_seconds(), handover_from=token)
    if token is None:
        return 0
    done, end = 0, time.monotonic() + RUN_SECONDS

    def holds():
        return workers.renew(name, token, lease_seconds())

    try:
        while time.monotonic() < end and (media := next_due()) is not None and holds():
            download_one(media, holds)
            done += 1
    finally:
        workers.release(name, token)
    if next_due() is not None:
        _start()  # more is due: a successor, not a task that outlives its timeout
    return done


def drain_now():
    """Every due file, inline, without the lease (tests, the demo)."""
    done = 0
    while (media := next_due()) is not None:
        download_one(media)
        done += 1
    return done


def download_one(media, holds=lambda: True):
    message = media.message
    with storage.spool() as buffer:
        try:
            mime = fetch.fetch(media, buffer)
        except fetch.Unobtainable as exc:
            media.failed(exc.reason, permanent=exc.permanent)
            return
        except Exception as exc:  # a bug of ours: log it, try again later, keep the message
            log.exception("downloading the file of message %s failed", message.message_id)
            media.failed(f"Unexpected error while downloading the file: {exc}")
            return
        size = buffer.seek(0, 2)
        path = storage.path_for(media.workspace_id, message.attachment_name)
        try:
            name = storage.save(path, buffer)
        except Exception as exc:
            log.exception("storing the file of message %s failed", message.message_id)
            media.failed(f"The file could not be written to the storage: {exc}")
            return
    if not (holds() and media.stored(name, size, mime)):
        storage.delete(name)  # another worker took over, or stored it first
