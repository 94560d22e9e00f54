import re

from whatsapp.models import Message
from whatsapp.signals import message_stored
from whatsapp.store import store_message
from whatsapp.transports import TransportError
from whatsapp.transports.simulator import SimulatorTransport


def test_it_gives_messages_a_timelines_style_id(chat):
    message = store_message(chat, direction=Message.SENT, origin=Message.ORIGIN_WEB, text="hi")
    assert re.fullmatch(r"wa_backend:[0-9A-F]{20}", message.message_id)


def test_it_fills_in_sender_and_recipient_from_the_direction(chat, account):
    sent = store_message(chat, direction=Message.SENT, origin=Message.ORIGIN_WEB, text="a")
    assert (sent.sender_phone, sent.recipient_phone) == (account.phone, chat.phone)
    assert sent.sender_name == "Olive Owner"
    received = store_message(chat, direction=Message.RECEIVED, origin="contact", text="b")
    assert (received.sender_name, received.sender_phone) == ("John Doe", "+14151231234")


def test_it_announces_every_stored_message(chat):
    seen = []

    def listener(message, **kwargs):
        seen.append(message.message_id)

    message_stored.connect(listener)
    try:
        message = store_message(chat, direction=Message.RECEIVED, origin="contact", text="x")
    finally:
        message_stored.disconnect(listener)
    assert seen == [message.message_id]


def test_the_simulator_sends_to_ordinary_numbers(chat):
    message = store_message(chat, direction=Message.SENT, origin="web", text="x")
    assert SimulatorTransport(chat.account).send(message).startswith("sim-")


def test_the_simulator_fails_numbers_ending_in_0000_permanently(account):
    from whatsapp.models import Chat

    chat, _ = Chat.get_or_create_direct(account, "+14155550000")
    message = store_message(chat, direction=Message.SENT, origin="web", text="x")
    try:
        SimulatorTransport(account).send(message)
    except TransportError as exc:
        assert exc.permanent and "not on WhatsApp" in str(exc)
    else:
        raise AssertionError("the simulator sent to a 0000 number")


def test_the_simulator_stores_received_group_messages(account):
    transport = SimulatorTransport(account)
    first = transport.receive(from_phone="+14151231234", text="hello", name="John", group="Team")
    second = transport.receive(from_phone="+14151231235", text="hey", group="Team")
    assert first.chat == second.chat and first.chat.is_group
    assert first.created_chat and not second.created_chat
    assert first.recipient_phone == first.sender_phone == ""
    assert first.sender_name == "John"
