"""Fetching a message's attachment from its file_url (I7, I8), in the sender, never the request."""

import mimetypes

from timelines import safehttp
from whatsapp.transports import Attachment

MAX_ATTACHMENT_BYTES = 2 * 1024 * 1024
DOWNLOAD_TIMEOUT = 20
_HTML_STARTS = (b"<!doctype html", b"<html", b"<head", b"<body", b"<!--", b"<meta", b"<title")


class AttachmentError(Exception):
    """The attachment cannot be sent; retrying will not help. The message says what to fix."""


def looks_like_html(content_type, content):
    if content_type in ("text/html", "application/xhtml+xml"):
        return True
    head = content[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith(_HTML_STARTS)


def fetch_attachment(url, file_name):
    """Download `url` and return an Attachment named `file_name`, or raise AttachmentError."""
    try:
        response = safehttp.request(
            "GET", url, timeout=DOWNLOAD_TIMEOUT, max_bytes=MAX_ATTACHMENT_BYTES
        )
    except safehttp.TooLarge:
        raise AttachmentError(
            f"The file at {url} is larger than the 2 MB limit for attachments."
        ) from None
    except safehttp.FetchError as exc:
        raise AttachmentError(f"The file at {url} could not be downloaded: {exc}.") from None
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
    mime = response.content_type or mimetypes.guess_type(file_name)[0]
    if not mime or mime in ("application/octet-stream", "binary/octet-stream"):
        mime = mimetypes.guess_type(file_name)[0] or "application/octet-stream"
    return Attachment(name=file_name, mime=mime, content=response.content)
