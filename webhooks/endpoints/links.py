"""Attachments' `temporary_download_url` (W3): a signed link, served by Timelines, that lets
whoever holds it download one message's file until it expires (ATTACHMENT_LINK_TTL, default
24 h). The link carries the message's id and the time it expires, signed with SECRET_KEY (HMAC,
checked in constant time); a tampered or expired link is a 404."""

import time

from django.conf import settings
from django.core import signing
from django.urls import reverse

from timelines.site import site_url

SALT = "webhooks.endpoints.attachment-link"


def _signer():
    return signing.Signer(salt=SALT)


def make(message_id, now=None):
    """The absolute link to message `message_id`'s attachment."""
    expires = int(now if now is not None else time.time()) + int(settings.ATTACHMENT_LINK_TTL)
    token = _signer().sign(f"{message_id}.{expires}")
    return site_url() + reverse("endpoints:attachment", args=[token])


def read(token, now=None):
    """The message id a link is for; None when tampered with or expired."""
    try:
        value = _signer().unsign(token)
        message_id, expires = (int(part) for part in value.split("."))
    except (signing.BadSignature, ValueError):
        return None
    if (now if now is not None else time.time()) >= expires:
        return None
    return message_id
