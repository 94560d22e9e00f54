"""Files we send are kept as they went out (SPEC M3), so that a message's link serves the bytes
WhatsApp got even after the integrator's own URL is gone. A file uploaded on the chat page is in
the storage from the start and is the message's file at once; a file_url's bytes, downloaded by
the sender anyway, are written to the storage by the sending thread once WhatsApp has taken them
(no database there), and recorded with the send's outcome."""

import logging

from whatsapp.attachments import stored_name
from whatsapp.media import storage
from whatsapp.media.models import MediaFile

log = logging.getLogger(__name__)


def keep_upload(message, name, size):
    """A file uploaded on the chat page: already stored, now the message's file."""
    return MediaFile.keep(message, name, size)


def store_sent(message, attachment):
    """Write the bytes just sent to the storage; their name, or '' (an upload, kept already, or
    a storage that failed: the message went out all the same)."""
    if stored_name(message.attachment_url) is not None:
        return ""
    path = storage.path_for(message.chat.account.workspace_id, attachment.name, "sent")
    try:
        return storage.save_bytes(path, attachment.content)
    except Exception:
        log.exception("the file sent with message %s could not be stored", message.message_id)
        return ""


def record(message, name, size):
    """Make the stored bytes the message's file (inside the transaction recording the send)."""
    if name:
        MediaFile.keep(message, name, size)
