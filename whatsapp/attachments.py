"""Fetching a message's attachment (I7, I8), in the sender, never the request: from its file_url,
or from the file storage for a file uploaded on the chat page."""

import mimetypes
import secrets

from django.core.files.storage import default_storage

from timelines import safehttp
from whatsapp.transports import Attachment

MAX_ATTACHMENT_BYTES = 2 * 1024 * 1024
DOWNLOAD_TIMEOUT = 20  # seconds, for each connect and each read
DOWNLOAD_DEADLINE = 60  # seconds, for the whole download
HTML_TYPES = ("text/html", "application/xhtml+xml")
# The byte patterns by which browsers sniff HTML (WHATWG MIME Sniffing, "identifying a resource
# with an unknown MIME type"); each must be followed by a space or ">" so that "<b" does not catch
# "<binary...".
_HTML_TAGS = (
    b"<!doctype html",
    b"<html",
    b"<head",
    b"<script",
    b"<iframe",
    b"<h1",
    b"<div",
    b"<font",
    b"<table",
    b"<a",
    b"<style",
    b"<title",
    b"<b",
    b"<body",
    b"<br",
    b"<p",
    b"<!--",
    b"<meta",
)
_TAG_ENDS = (b" ", b">", b"\t", b"\n", b"\r", b"\x0c", b"")  # b"": the content ends there
_GENERIC_TYPES = ("", "application/octet-stream", "binary/octet-stream", "application/unknown")


# Files uploaded on the chat page are kept in Django's default storage (MEDIA_ROOT unless STORAGES
# says otherwise) and named in attachment_url with this prefix, so the sender reads them from the
# storage instead of downloading them from our own site (which the private-address guard would
# refuse, and which would need the site to be reachable from the workers).
STORED_PREFIX = "stored:"
UPLOADS_DIR = "uploads"


class AttachmentError(Exception):
    """The attachment cannot be sent; retrying will not help. The message says what to fix."""


def looks_like_html(content_type, content):
    """True for a web page: by its declared type, or by its first bytes whatever the type says
    (share pages are often served as application/octet-stream)."""
    if content_type in HTML_TYPES:
        return True
    head = content[:1024].lstrip(b"\xef\xbb\xbf \t\r\n\x0c").lower()
    if head.startswith(b"<?xml"):  # XHTML announces itself after the XML declaration
        return b"<!doctype html" in head or b"<html" in head
    return any(
        head.startswith(tag) and head[len(tag) : len(tag) + 1] in _TAG_ENDS for tag in _HTML_TAGS
    )


def store_upload(uploaded):
    """Keep a file uploaded on the chat page (at most 2 MB, checked by the form) for the sender;
    returns the attachment_url that names it."""
    name = default_storage.save(f"{UPLOADS_DIR}/{secrets.token_hex(8)}/{uploaded.name}", uploaded)
    return STORED_PREFIX + name


def stored_name(url):
    """The storage name of a file uploaded on the chat page, None for a URL to download."""
    return url.removeprefix(STORED_PREFIX) if url.startswith(STORED_PREFIX) else None


def fetch_attachment(url, file_name):
    """Download `url` (or read a stored upload) and return an Attachment named `file_name`, or
    raise AttachmentError."""
    if (stored := stored_name(url)) is not None:
        return _stored(stored, file_name)
    response = _download(url)
    if not response.ok:
        raise AttachmentError(
            f"The file at {url} could not be downloaded: the server answered HTTP "
            f"{response.status}."
        )
    if looks_like_html(response.content_type, response.content):
        raise AttachmentError(
            f"{url} returned a web page instead of a file. Use a direct download link (one that "
            "starts the download at once when opened in a private browser window), not a "
            "file-hosting service's share link."
        )
    if not response.content:
        raise AttachmentError(f"The file at {url} is empty.")
    return Attachment(name=file_name, mime=_mime(response, file_name), content=response.content)


def _stored(name, file_name):
    try:
        with default_storage.open(name) as stored:
            content = stored.read(MAX_ATTACHMENT_BYTES + 1)
    except OSError:
        raise AttachmentError(f"The uploaded file {file_name} is no longer stored.") from None
    if len(content) > MAX_ATTACHMENT_BYTES:
        raise AttachmentError(f"{file_name} is larger than the 2 MB limit for attachments.")
    if not content:
        raise AttachmentError(f"The uploaded file {file_name} is empty.")
    mime = mimetypes.guess_type(file_name)[0] or "application/octet-stream"
    return Attachment(name=file_name, mime=mime, content=content)


def _download(url):
    try:
        return safehttp.request(
            "GET",
            url,
            timeout=DOWNLOAD_TIMEOUT,
            total_timeout=DOWNLOAD_DEADLINE,
            max_bytes=MAX_ATTACHMENT_BYTES,
        )
    except safehttp.TooLarge:
        raise AttachmentError(
            f"The file at {url} is larger than the 2 MB limit for attachments."
        ) from None
    except safehttp.InvalidURL as exc:
        raise AttachmentError(f"The file was not downloaded: {exc}.") from None
    except safehttp.UnsafeURL as exc:
        raise AttachmentError(
            f"The file at {url} was not downloaded: {exc}. file_url must be a public address."
        ) from None
    except safehttp.FetchError as exc:
        raise AttachmentError(
            f"The file at {url} could not be downloaded (unreachable): {exc}."
        ) from None


def _mime(response, file_name):
    """The type the server declared, else the one the name implies."""
    declared = response.content_type
    if declared not in _GENERIC_TYPES:
        return declared
    return mimetypes.guess_type(file_name)[0] or "application/octet-stream"
