"""Every engine's events are read alike (WEBJS, NOWEB, GOWS; fixtures in the layout of WAHA's
documented examples): a message typed on the phone, a received one, a group message from a
LID, a direct ack and a group ack. Each message is stored once and reported once by the
outbound webhook, whatever WAHA retries."""

from collections import Counter

import pytest

from credits.models import grant
from tests.fake_waha import fixture
from webhooks.outbound import dispatch
from webhooks.outbound.models import Delivery, OutboundWebhook
from whatsapp.models import Chat, Message
from whatsapp.outbox import queue_message

ENGINES = ["webjs", "noweb", "gows"]
GROUP = "120363000000000000@g.us"
LID = "203040506070809@lid"


@pytest.fixture
def reported(waha_account, receiver):
    """The outbound webhook, enabled: `reported()` delivers what is due and says, per stored
    message, how many deliveries it got and how many POSTs the receiver saw for it."""
    OutboundWebhook.for_workspace(waha_account.workspace).configure(url=receiver.url, enabled=True)

    def count():
        dispatch.deliver_due()
        seen = Counter(body["message"]["message_id"] for body in receiver.bodies())
        for message in Message.objects.all():
            assert Delivery.objects.filter(message=message).count() == seen[message.message_id]
        return [(m.text, seen[m.message_id]) for m in Message.objects.all()]

    return count


def posted_twice(post_event, event):
    """WAHA retries a delivery it thinks failed: the second copy changes nothing."""
    first = post_event(event).json()["status"]
    assert post_event(event).json()["status"] in ("duplicate", "unchanged")
    return first


@pytest.mark.parametrize("engine", ENGINES)
def test_a_message_typed_on_the_phone_is_stored_as_sent_in_its_chat(
    engine, post_event, waha_account, reported
):
    assert posted_twice(post_event, fixture(f"{engine}/message_any_from_phone")) == "stored"
    message = Message.objects.get()
    assert message.chat.jid == "14151231234@s.whatsapp.net" and message.chat.phone == "+14151231234"
    assert (message.direction, message.origin) == (Message.SENT, Message.ORIGIN_PHONE)
    assert message.sender_phone == "+15105566777" and message.recipient_phone == "+14151231234"
    assert reported() == [("Typed on the phone", 1)]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_received_message_is_stored_from_its_contact(engine, post_event, waha_account, reported):
    assert posted_twice(post_event, fixture(f"{engine}/message_any_received")) == "stored"
    message = Message.objects.get()
    assert message.chat.phone == "+14151231234" and message.direction == Message.RECEIVED
    assert (message.sender_name, message.sender_phone) == ("John Doe", "+14151231234")
    assert message.external_id == "3EB0C767D26A1D8E5A4B"
    assert reported() == [("Hi there!", 1)]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_group_message_from_a_lid_names_its_sender_by_number(
    engine, post_event, waha_account, fake_waha, reported
):
    fake_waha.lids[LID] = "14151231235@c.us"
    event = fixture(f"{engine}/message_any_group_lid")
    assert posted_twice(post_event, event) == "stored"
    again = fixture(f"{engine}/message_any_group_lid", payload__id=f"false_{GROUP}_3EB0BB")
    assert post_event(again).json()["status"] == "stored"
    first = Message.objects.get(external_id="3EB05A6B7C8D9E0F1A2B")
    assert first.chat.jid == GROUP and first.chat.is_group
    assert first.direction == Message.RECEIVED and first.sender_name == "+14151231235"
    assert first.sender_phone == ""  # no phones in groups (SPEC O3)
    lookups = [path for path in fake_waha.paths() if "/lids/" in path]
    assert len(lookups) <= 1  # asked once at most (GOWS names the number itself), then cached
    assert reported() == [("Hello team", 1), ("Hello team", 1)]


def sent(chat, key, text):
    """A message we sent through WAHA, its id recorded."""
    grant(chat.account.workspace, 5)
    message = queue_message(chat, text=text, origin=Message.ORIGIN_INBOUND_WEBHOOK)
    Message.objects.filter(pk=message.pk).update(status=Message.SENT, external_id=key)
    return message


@pytest.mark.parametrize("engine", ENGINES)
def test_a_direct_ack_moves_our_message_forward(engine, post_event, waha_chat, status_changes):
    message = sent(waha_chat, "3EB0FFEEDDCCBBAA9988", "To John")
    assert posted_twice(post_event, fixture(f"{engine}/message_ack")) == "updated"
    message.refresh_from_db()
    assert message.status == Message.DELIVERED and status_changes == [("sent", "delivered")]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_group_ack_moves_our_group_message_forward_never_back(
    engine, post_event, waha_account, status_changes
):
    group, _ = Chat.get_or_create_group(waha_account, GROUP, "Team")
    message = sent(group, "3EB0GGEEDDCCBBAA9988", "To the team")
    assert posted_twice(post_event, fixture(f"{engine}/message_ack_group")) == "updated"
    later = fixture(f"{engine}/message_ack_group", payload__ackName="DEVICE", payload__ack=2)
    assert post_event(later).json()["status"] == "unchanged"  # another member's late receipt
    message.refresh_from_db()
    assert message.status == Message.READ and status_changes == [("sent", "read")]
