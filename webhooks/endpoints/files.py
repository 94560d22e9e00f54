"""Serving an attachment by its temporary_download_url (W3, SPEC M4): the link names the message
(signed, expiring); the file is served as every file is (whatsapp.media.serve). A tampered or
expired link, or a message gone: 404."""

from django.http import Http404

from webhooks.endpoints import links
from whatsapp.media.serve import file_response
from whatsapp.models import Message


def attachment(request, token):
    message_id = links.read(token)
    message = Message.objects.filter(pk=message_id).select_related("media").first()
    if message is None:
        raise Http404("No such file")
    return file_response(message)
