"""How a received (or phone-typed) message gets its file (SPEC M1): a transport that reports a
file it still holds (WAHA) leaves it to the download worker; a transport that hands the bytes
over (the simulator) has them stored at once. Either way the message is announced with its file
once the file is settled (`media_settled`)."""

import mimetypes
from pathlib import Path

from django.utils import timezone

from whatsapp.media import downloads, storage
from whatsapp.media.models import MediaFile


def expect(message, source="", ref=""):
    """The transport holds the file: the worker fetches it once this transaction commits."""
    MediaFile.expect(message, source=source, ref=ref)
    downloads.wake()


def file_fields(path):
    """The attachment fields of a message that carries the local file `path`."""
    path = Path(path)
    return {
        "attachment_name": storage.safe_name(path.name),
        "attachment_mime": mimetypes.guess_type(path.name)[0] or "application/octet-stream",
        "attachment_size": path.stat().st_size,
    }


def keep_local(message, path):
    """Store the local file `path` as `message`'s file; call inside the transaction that
    stored the message."""
    with open(path, "rb") as source:
        name = storage.save(storage.path_for(message.chat.account.workspace_id, path.name), source)
    media = MediaFile.keep(message, name, Path(path).stat().st_size)
    media.settle()
    return media


def retry(account):
    """The reconciliation sweep's turn for the account (every five minutes): its files still to
    fetch are tried again now, WAHA asked anew for each; how many."""
    count = MediaFile.objects.filter(state=MediaFile.PENDING, message__account=account).update(
        next_attempt_at=timezone.now()
    )
    if count:
        downloads.wake()
    return count
