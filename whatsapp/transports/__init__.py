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


class Restricted(TransportError):
    """WhatsApp restricts the account (SPEC G3): the message was not sent and must wait, not
    fail. `scope` is "new_contacts" (463: no new chats for a while) or "all" (475, capped, a
    ban-like session failure); `until` is when WhatsApp says it ends (None: not said)."""

    def __init__(self, message, scope, until=None):
        super().__init__(message, permanent=False)
        self.scope, self.until = scope, until


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

    def number_exists(self, phone):
        """Whether `phone` is on WhatsApp (G4): True, False, or None when it cannot be told."""
        return None


def transport_class(name):
    try:
        path = settings.WHATSAPP_TRANSPORTS[name]
    except KeyError:
        raise TransportError(f"Unknown transport '{name}'", permanent=True) from None
    return import_string(path)


def get_transport(account):
    return transport_class(account.transport)(account)
