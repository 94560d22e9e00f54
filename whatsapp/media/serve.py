"""Serving a message's file (SPEC M4, M6): one path for the integrators' signed links and the
console's own links. From the storage, streamed in pieces (constant memory, whatever the size),
or, on an object store, a redirect to a short-lived presigned URL. Never fetched from the
transport or the integrator at this point: what was received or sent is what is served.

A file not stored (yet, or at all): 404 with a sentence saying which. A file removed by
retention: 410, saying so."""

from django.conf import settings
from django.http import FileResponse, Http404, HttpResponse, HttpResponseRedirect

from whatsapp.media import storage, thumbnails
from whatsapp.media.models import MediaFile

# Shown in the page itself (thumbnails): raster images only; anything else (SVG, HTML) is a
# download, so that a received file never runs as part of the site.
INLINE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")


def is_image(message):
    return message.attachment_mime in INLINE_TYPES


def file_response(message, inline=False, thumbnail=False):
    media = getattr(message, "media", None) if message.has_attachment else None
    if not message.has_attachment:
        raise Http404("No such file")
    if media is None or media.state == MediaFile.PENDING:
        return _sentence(404, "The file is not stored yet; try again in a minute.", retry=60)
    if media.state == MediaFile.UNAVAILABLE:
        return _sentence(404, f"The file could not be obtained: {media.reason}")
    if media.state == MediaFile.REMOVED:
        days = settings.MEDIA_RETENTION_DAYS
        return _sentence(410, f"The file was removed: files are kept {days} days.")
    inline = inline and is_image(message)
    mime = message.attachment_mime or "application/octet-stream"
    if thumbnail and inline:
        return _thumbnail(media, message)
    presigned = storage.presigned_url(media.name, message.attachment_name, mime, inline)
    if presigned:
        return HttpResponseRedirect(presigned)
    try:
        opened = storage.open_file(media.name)
    except OSError:
        raise Http404("No such file") from None
    response = FileResponse(opened, content_type=mime)
    response["Content-Disposition"] = storage.content_disposition(message.attachment_name, inline)
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def _thumbnail(media, message):
    try:
        name = thumbnails.thumbnail_of(media)
    except thumbnails.NoThumbnail:
        raise Http404("No thumbnail") from None
    response = FileResponse(storage.open_file(name), content_type="image/jpeg")
    response["Content-Disposition"] = storage.content_disposition(message.attachment_name, True)
    response["Cache-Control"] = "private, max-age=86400"
    return response


def _sentence(status, text, retry=None):
    response = HttpResponse(text + "\n", status=status, content_type="text/plain; charset=utf-8")
    if retry:
        response["Retry-After"] = str(retry)
    return response
