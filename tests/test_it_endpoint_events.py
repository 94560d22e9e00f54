"""W2: each event type is written once for its change, in the same transaction, and never for a
change that rolled back."""

import pytest
from django.db import transaction

from webhooks.endpoints import event_types as types
from webhooks.endpoints.models import Event
from webhooks.outbound.models import Delivery
from whatsapp.delivery import record_delivery
from whatsapp.models import Chat, Message
from whatsapp.store import store_message
from whatsapp.transports.simulator import SimulatorTransport


class Rollback(Exception):
    pass


def receive(account):
    SimulatorTransport(account).receive(from_phone="+14155550000", text="hi")


def sent_on_phone(account):
    chat, _ = Chat.get_or_create_direct(account, "+14155550001")
    store_message(
        chat, direction=Message.SENT, origin=Message.ORIGIN_PHONE, status="sent", text="x"
    )


def new_chat_received(account):
    Chat.get_or_create_direct(account, "+14155550002", "New")


def new_chat_sent(account):
    Chat.get_or_create_direct(account, "+14155550003", "New", direction="sent")


def assign(account):
    chat = Chat.objects.get(account=account, phone="+14151231234")
    chat.assign(account.connected_by)


def unassign(account):
    chat = Chat.objects.get(account=account, phone="+14151231234")
    chat.assign(None)


def disconnect(account):
    account.mark_disconnected(reason="phone offline")


def reconnect(account):
    account.mark_connected()


def delivered(account):
    message = Message.objects.get(text="ours")
    record_delivery(message, Message.DELIVERED, message.sent_at)


CASES = [
    (types.MESSAGE_NEW, receive),
    (types.MESSAGE_RECEIVED_NEW, receive),
    (types.MESSAGE_SENT_NEW, sent_on_phone),
    (types.CHAT_CREATED, new_chat_received),
    (types.CHAT_RECEIVED_CREATED, new_chat_received),
    (types.CHAT_SENT_CREATED, new_chat_sent),
    (types.CHAT_ASSIGNED, assign),
    (types.CHAT_UNASSIGNED, unassign),
    (types.ACCOUNT_DISCONNECTED, disconnect),
    (types.ACCOUNT_CONNECTED, reconnect),
    (types.MESSAGE_STATUS_CHANGED, delivered),
]


@pytest.fixture
def scene(account, chat):
    """What the cases change: an assigned chat, a sent message of ours, a disconnected account
    for reconnect (set per case)."""
    from django.utils import timezone

    chat.assign(account.connected_by)
    store_message(
        chat,
        direction=Message.SENT,
        origin=Message.ORIGIN_WEB,
        status="sent",
        sent_at=timezone.now(),
        text="ours",
    )
    return account


def prepare(event_type, account):
    if event_type == types.CHAT_ASSIGNED:
        Chat.objects.filter(account=account).update(responsible=None)
    if event_type == types.ACCOUNT_CONNECTED:
        account.mark_disconnected()


@pytest.mark.parametrize(("event_type", "change"), CASES, ids=[c[0] for c in CASES])
def test_it_fires_once_for_its_change(scene, subscribe, event_type, change):
    prepare(event_type, scene)
    endpoint = subscribe(event_type)
    change(scene)
    [delivery] = Delivery.objects.filter(endpoint=endpoint)
    [event] = Event.objects.all()
    assert types.subscriptions(event.kind).count(event_type) == 1
    assert delivery.source_event == event and delivery.event_id == event.webhook_id
    assert delivery.body.startswith(f'{{"event_type": "{event_type}"')


@pytest.mark.parametrize(("event_type", "change"), CASES, ids=[c[0] for c in CASES])
def test_it_does_not_fire_for_a_rolled_back_change(scene, subscribe, event_type, change):
    prepare(event_type, scene)
    endpoint = subscribe(event_type)
    with pytest.raises(Rollback), transaction.atomic():
        change(scene)
        assert Delivery.objects.filter(endpoint=endpoint).count() == 1
        raise Rollback
    assert not Delivery.objects.filter(endpoint=endpoint).exists()
    assert not Event.objects.exists()


def test_it_sends_nothing_to_other_types_disabled_endpoints_or_other_accounts(
    scene, subscribe, workspace
):
    from whatsapp.models import Account

    other = Account.objects.create(workspace=workspace, phone="+15105560000", transport="simulator")
    chats = subscribe(types.CHAT_CREATED)
    sent = subscribe(types.MESSAGE_SENT_NEW)
    off = subscribe(types.MESSAGE_NEW, enabled=False)
    elsewhere = subscribe(types.MESSAGE_NEW, account=other)
    receive(scene)  # a new chat and a received message on `scene`
    assert Delivery.objects.filter(endpoint=chats).count() == 1
    for endpoint in (sent, off, elsewhere):
        assert not Delivery.objects.filter(endpoint=endpoint).exists()
    assert Event.objects.filter(kind=types.MESSAGE_RECEIVED_NEW).count() == 1  # kept for replays


def test_a_queued_message_is_announced_when_whatsapp_accepts_it(chat, subscribe):
    from whatsapp.status import move

    endpoint = subscribe(types.MESSAGE_SENT_NEW)
    message = store_message(
        chat, direction=Message.SENT, origin=Message.ORIGIN_WEB, status="queued", text="later"
    )
    assert not Delivery.objects.filter(endpoint=endpoint).exists()
    move([message], Message.SENDING, [Message.QUEUED])
    move([message], Message.SENT, [Message.SENDING])
    assert Delivery.objects.filter(endpoint=endpoint).count() == 1
