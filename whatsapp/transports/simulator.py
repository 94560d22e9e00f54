"""The simulator: the embedded default transport, so the product can be tried with no phone.

Sending succeeds at once, except for numbers whose last four digits are 0000, which fail with a
permanent "not on WhatsApp" error (like a payment provider's test card numbers; a number check
says the same of them). A send takes
the account's `latency_ms` setting (transport_settings; none by default), the way a real WhatsApp
bridge takes 100-500 ms (bench/pacing.py --latency). Received messages are injected with
`receive` (the `simulate_incoming` command).
"""

import time
import uuid
from pathlib import Path

from django.db import transaction

from whatsapp.models import Chat, Message
from whatsapp.phones import normalize_phone
from whatsapp.store import store_message
from whatsapp.transports import NotOnWhatsApp, Transport, get_transport

FAILING_SUFFIX = "0000"


class NotASimulator(ValueError):
    pass


def simulator_for(account):
    """The account's transport if it is the simulator; NotASimulator otherwise.

    Only a simulated account may be handed made-up received messages: on a real account they
    would sit in the timeline beside what the contact really wrote.
    """
    transport = get_transport(account)
    if not isinstance(transport, SimulatorTransport):
        raise NotASimulator(
            f"Account {account.phone} uses the '{account.transport}' transport, not the "
            "simulator: only simulator accounts can receive simulated messages."
        )
    return transport


class SimulatorTransport(Transport):
    def send(self, message, attachment=None):
        if latency := self.settings.get("latency_ms"):
            time.sleep(float(latency) / 1000)
        phone = message.chat.phone
        if phone and phone.endswith(FAILING_SUFFIX):
            raise NotOnWhatsApp(phone)
        return f"sim-{uuid.uuid4().hex}"

    def number_exists(self, phone):
        return not phone.endswith(FAILING_SUFFIX)

    def receive(self, *, from_phone, text, name="", group="", file=None):
        """Store a received message as if the contact had sent it; returns the Message.

        With `group`, the message arrives in the group chat of that name (created if needed)
        from the participant `from_phone`. With `file` (a local path) the message carries that
        file, stored at once: the simulator hands the bytes over.
        """
        from whatsapp.media import received

        from_phone = normalize_phone(from_phone)
        with transaction.atomic():
            if group:
                chat, created = self._group_chat(group)
            else:
                chat, created = Chat.get_or_create_direct(self.account, from_phone, name)
            message = store_message(
                chat,
                direction=Message.RECEIVED,
                origin=Message.ORIGIN_CONTACT,
                created_chat=created,
                text=text,
                external_id=f"sim-{uuid.uuid4().hex}",
                sender_name=name or from_phone,
                sender_phone=from_phone,
                **(received.file_fields(file) if file else {}),
            )
            if file:
                received.keep_local(message, Path(file))
            return message

    def _group_chat(self, name):
        existing = Chat.objects.filter(account=self.account, is_group=True, name=name).first()
        if existing:
            return existing, False
        # A simulated group gets a stable, made-up group JID derived from its name.
        digits = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.account.pk}/{name}").int)[:18]
        return Chat.get_or_create_group(self.account, f"{digits}@g.us", name)
