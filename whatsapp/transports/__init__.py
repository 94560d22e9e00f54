"""Transports: how a WhatsApp account is reached.

A transport sends one message for one account and returns the provider's id for it, or raises
TransportError. `permanent=True` means retrying cannot help (not on WhatsApp, bad request): the
sender fails the message and refunds it; otherwise the sender retries with backoff.
"""

from dataclasses import dataclass

from django.conf import settings
from django.utils.module_loading import import_string


class TransportError(Exception):
    def __init__(self, message, permanent=False):
        super().__init__(message)
        self.message = message
        self.permanent = permanent


class NotOnWhatsApp(TransportError):
    def __init__(self, phone):
        super().__init__(f"{phone} is not on WhatsApp", permanent=True)


@dataclass(frozen=True)
class Attachment:
    """A downloaded file, ready to hand to a transport."""

    name: str
    mime: str
    content: bytes

    @property
    def size(self):
        return len(self.content)


class Transport:
    """Base class: one instance per account."""

    def __init__(self, account):
        self.account = account
        self.settings = account.transport_settings or {}

    def send(self, message, attachment=None):
        """Send `message` (a whatsapp.models.Message) to its chat; return the provider's id."""
        raise NotImplementedError


def transport_class(name):
    try:
        path = settings.WHATSAPP_TRANSPORTS[name]
    except KeyError:
        raise TransportError(f"Unknown transport '{name}'", permanent=True) from None
    return import_string(path)


def get_transport(account):
    return transport_class(account.transport)(account)
