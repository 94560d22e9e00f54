"""W5: "Replay since…" re-sends one endpoint's events since a time, same webhook-id per event;
the per-endpoint account filter."""

from datetime import UTC, datetime, timedelta

import time_machine

from webhooks.endpoints import event_types as types
from webhooks.endpoints.events import replay
from webhooks.outbound import dispatch
from whatsapp.media.models import MediaFile
from whatsapp.models import Account, Message
from whatsapp.store import store_message
from whatsapp.transports.simulator import SimulatorTransport

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_it_replays_the_events_since_a_time_with_their_webhook_ids(chat, subscribe, receiver):
    endpoint = subscribe(types.MESSAGE_NEW)
    other = subscribe(types.MESSAGE_NEW, url=receiver.url.replace("/hook", "/other"))
    for hour, text in enumerate(["old", "a", "b"]):
        with time_machine.travel(START + timedelta(hours=hour), tick=False):
            store_message(chat, direction=Message.RECEIVED, origin="contact", text=text)
    dispatch.deliver_due()
    first_ids = {
        r.json()["message"]["text"]: r.headers["webhook-id"]
        for r in receiver.requests
        if r.path == "/hook"
    }
    receiver.requests.clear()
    assert replay(endpoint, since=START + timedelta(minutes=30)) == 2
    dispatch.deliver_due()
    assert [r.path for r in receiver.requests] == ["/hook", "/hook"]  # not the other endpoint
    assert [r.json()["message"]["text"] for r in receiver.requests] == ["a", "b"]
    assert [r.headers["webhook-id"] for r in receiver.requests] == [first_ids["a"], first_ids["b"]]
    del other


def test_an_endpoint_filtered_by_account_gets_only_that_account_s_events(
    account, workspace, subscribe, receiver
):
    second = Account.objects.create(
        workspace=workspace, phone="+15105560000", transport="simulator"
    )
    only_second = subscribe(types.MESSAGE_RECEIVED_NEW, account=second)
    SimulatorTransport(account).receive(from_phone="+14155550000", text="to the first")
    SimulatorTransport(second).receive(from_phone="+14155550000", text="to the second")
    dispatch.deliver_due()
    assert [b["message"]["text"] for b in receiver.bodies()] == ["to the second"]
    assert replay(only_second, since=START - timedelta(days=3650)) == 1


def test_a_replay_refreshes_attachment_links(chat, subscribe, receiver):
    endpoint = subscribe(types.MESSAGE_NEW)
    with time_machine.travel(START, tick=False):
        message = store_message(
            chat, direction=Message.RECEIVED, origin="contact", attachment_name="1.jpg"
        )
        MediaFile.keep(message, "media/1.jpg", 3).settle(size=3)
    with time_machine.travel(START + timedelta(days=2), tick=False):
        replay(endpoint, since=START - timedelta(hours=1))
    dispatch.deliver_due()
    first, again = (
        b["message"]["attachments"][0]["temporary_download_url"] for b in receiver.bodies()
    )
    assert first != again
