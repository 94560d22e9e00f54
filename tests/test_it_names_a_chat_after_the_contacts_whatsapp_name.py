"""M7: a contact's WhatsApp name (WAHA's push name) names a chat that knows only the number —
e.g. one an integrator started by phone — in the v1 and v2 payloads and in the console; a name
someone gave the chat is kept."""

import json

import pytest

from webhooks.endpoints import event_types as types
from webhooks.outbound import dispatch
from webhooks.outbound.models import OutboundWebhook
from whatsapp.models import Chat, Message

CONTACT = "14151231234@c.us"


@pytest.fixture
def started_by_phone(waha_account):
    chat, _ = Chat.get_or_create_direct(waha_account, "+14151231234", direction="sent")
    assert chat.name == "+14151231234"
    return chat


@pytest.mark.parametrize("waha_server", [{"engine": e} for e in ("WEBJS", "NOWEB", "GOWS")])
def test_the_reply_names_the_chat(
    client, owner, workspace, started_by_phone, fake_waha, post_event, receiver, subscribe
):
    OutboundWebhook.for_workspace(workspace).configure(url=receiver.url, enabled=True)
    subscribe(types.MESSAGE_RECEIVED_NEW, url=receiver.url)
    fake_waha.names[CONTACT] = "Maria Santos"
    post_event(fake_waha.event(fake_waha.message(CONTACT, "Hi, it's Maria")))
    dispatch.deliver_due()
    started_by_phone.refresh_from_db()
    assert started_by_phone.name == "Maria Santos"
    assert Message.objects.get().sender_name == "Maria Santos"
    bodies = [json.loads(r.body) for r in receiver.requests]
    assert len(bodies) == 2
    for body in bodies:
        sender = body["message"]["sender"]
        assert (sender["full_name"], sender["phone"]) == ("Maria Santos", "+14151231234")
        assert body["chat"]["full_name"] == "Maria Santos"
    client.force_login(owner)
    assert "Maria Santos" in client.get(f"/chat/{started_by_phone.pk}/messages/").content.decode()


def test_a_name_someone_gave_is_kept(waha_account, fake_waha, post_event):
    chat, _ = Chat.get_or_create_direct(waha_account, "+14151231234", "ACME buyer")
    fake_waha.names[CONTACT] = "Maria Santos"
    post_event(fake_waha.event(fake_waha.message(CONTACT, "Hi")))
    chat.refresh_from_db()
    assert chat.name == "ACME buyer"
