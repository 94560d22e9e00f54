"""Serving an attachment by its temporary_download_url (W3): a file uploaded on the chat page
streamed from the storage, or the transport's media (or the file's own URL) fetched through the
outbound-HTTP seam and handed over. Anything wrong with the link — tampered, expired, the message
gone or without a file — is a 404."""

from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponse

from timelines import safehttp
from webhooks.endpoints import links
from whatsapp.attachments import stored_name
from whatsapp.media import sources
from whatsapp.models import Message

MAX_BYTES = 64 * 1024 * 1024


def attachment(request, token):
    message_id = links.read(token)
    message = Message.objects.filter(pk=message_id).select_related("chat__account").first()
    if message is None or not message.attachment_url:
        raise Http404("No such file")
    if (stored := stored_name(message.attachment_url)) is not None:
        return _stored(message, stored)
    try:
        fetched = safehttp.request(
            "GET",
            message.attachment_url,
            headers=sources.headers_for(message.chat.account, message.attachment_url),
            timeout=20,
            total_timeout=60,
            max_bytes=MAX_BYTES,
            trusted=sources.trusted_for(message.chat.account),
        )
    except safehttp.FetchError:
        return HttpResponse("The file cannot be fetched right now.", status=502)
    if not fetched.ok:
        return HttpResponse("The file cannot be fetched right now.", status=502)
    response = HttpResponse(
        fetched.content, content_type=message.attachment_mime or fetched.content_type or ""
    )
    return _as_download(response, message)


def _stored(message, name):
    try:
        opened = default_storage.open(name)
    except OSError:
        raise Http404("No such file") from None
    response = FileResponse(opened, content_type=message.attachment_mime or None)
    return _as_download(response, message)


def _as_download(response, message):
    name = message.attachment_name.replace('"', "")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    return response
