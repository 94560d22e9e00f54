"""Files in the one storage (SPEC M2): Django's default storage, a directory or an S3-compatible
object store, the same for the web app and every worker. Written and read in pieces, never whole
in memory."""

import re
import secrets
import tempfile
import unicodedata
from pathlib import PurePosixPath

from django.core.files import File
from django.core.files.storage import default_storage
from django.utils import timezone
from django.utils.http import content_disposition_header

SPOOL_BYTES = 1024 * 1024  # a download larger than this waits on disk, not in memory
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]+")
NAME_LENGTH = 100


def safe_name(name):
    """A file name fit for a storage path: no directory part (`../`), no NUL or control
    characters, at most NAME_LENGTH characters with its extension kept; never empty."""
    name = unicodedata.normalize("NFC", str(name or "")).replace("\\", "/")
    name = _UNSAFE.sub("_", PurePosixPath(name).name).strip(" ._") or "file"
    stem, dot, extension = name.rpartition(".")
    if dot and 0 < len(extension) <= 10 and stem:
        return stem[: NAME_LENGTH - len(extension) - 1] + "." + extension
    return name[:NAME_LENGTH]


def path_for(workspace_id, file_name, kind="received"):
    """Where a new file goes: per workspace and month, under a random directory so that two
    files of the same name never meet."""
    month = timezone.now().strftime("%Y/%m")
    return f"media/{workspace_id}/{kind}/{month}/{secrets.token_hex(8)}/{safe_name(file_name)}"


def spool():
    """A temporary file for a download on its way to the storage."""
    return tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)


def save(path, fileobj):
    """Write `fileobj` (read from its start) to the storage; returns the name it was saved as."""
    fileobj.seek(0)
    return default_storage.save(path, File(fileobj, name=PurePosixPath(path).name))


def save_bytes(path, content):
    with spool() as buffer:
        buffer.write(content)
        return save(path, buffer)


def open_file(name):
    """The stored file, to read in pieces; OSError when it is not there."""
    try:
        return default_storage.open(name, "rb")
    except FileNotFoundError:
        raise
    except Exception as exc:  # an object store answers with its own errors
        raise OSError(str(exc)) from exc


def delete(name):
    if name:
        default_storage.delete(name)


def presigned_url(name, file_name, mime, inline=False):
    """A short-lived URL of the object store for this file, or None on a plain directory."""
    if not hasattr(default_storage, "bucket_name"):
        return None
    params = {
        "ResponseContentDisposition": content_disposition(file_name, inline),
        "ResponseContentType": mime or "application/octet-stream",
    }
    return default_storage.url(name, parameters=params)


def content_disposition(file_name, inline=False):
    """`attachment` (or `inline`) with the file's name, in the form every browser reads
    (RFC 6266)."""
    return content_disposition_header(not inline, safe_name(file_name))
