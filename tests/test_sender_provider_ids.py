"""The provider's id of a sent message is kept: the transport's answer records it, and an answer
without one does not erase the id an event (the message's echo) recorded meanwhile."""

from django.test import override_settings

from credits.models import grant
from tests.sender_helpers import queue
from whatsapp import sender
from whatsapp.models import Message
from whatsapp.transports import Transport


class EchoFirstTransport(Transport):
    """Like a provider whose event about the message arrives before its answer to the send,
    and whose answer carries no id."""

    def send(self, message, attachment=None):
        Message.objects.filter(pk=message.pk).update(external_id="echo-id-1")
        return ""


def test_it_records_the_id_the_transport_answers_with(workspace, chat):
    grant(workspace, 1)
    message = queue(chat, 1)[0]
    sender.drain_now()
    message.refresh_from_db()
    assert message.status == Message.SENT
    assert message.external_id.startswith("sim-")


@override_settings(WHATSAPP_TRANSPORTS={"simulator": f"{__name__}.EchoFirstTransport"})
def test_it_keeps_an_id_an_event_recorded_when_the_answer_has_none(workspace, chat):
    grant(workspace, 1)
    message = queue(chat, 1)[0]
    sender.drain_now()
    message.refresh_from_db()
    assert message.status == Message.SENT
    assert message.external_id == "echo-id-1"
