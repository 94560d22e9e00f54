"""The reconciliation sweep (SPEC A4): with WAHA dropping events, reading recent chats back stores
every message exactly once, through the same path as events (so the outbound webhook reports
each once); a sweep with nothing missed recovers 0 at a cost that grows with chats, not
messages. What each sweep recovered is shown on the accounts page and in the admin."""

import pytest
from django.db import connection as db
from django.test.utils import CaptureQueriesContext

from webhooks.outbound.models import Delivery, OutboundWebhook
from whatsapp.models import Message, WahaConnection
from whatsapp.waha_sweep import sweep

CHATS = [f"1415123{n:04d}@c.us" for n in range(9)] + ["120363000000000000@g.us"]


def converse(fake, post, messages=200):
    """`messages` messages across CHATS, received and typed on the phone in turn (a group's
    members take turns), each reported by an event the fake may drop. Returns how many it
    dropped."""
    dropped = 0
    for n in range(messages):
        chat = CHATS[n % len(CHATS)]
        group = chat.endswith("@g.us")
        payload = fake.message(
            chat,
            f"message {n}",
            from_me=n % 3 == 0,
            participant=f"1415555{n % 4:04d}@c.us" if group else None,
        )
        dropped += not fake.deliver(post, fake.event(payload))
    return dropped


@pytest.fixture
def reported(waha_account, receiver):
    OutboundWebhook.for_workspace(waha_account.workspace).configure(url=receiver.url, enabled=True)


@pytest.mark.parametrize(
    "waha_server", [{"engine": "WEBJS"}, {"engine": "NOWEB"}, {"engine": "GOWS"}], ids=str
)
def test_a_sweep_stores_every_dropped_message_once_and_a_second_finds_nothing(
    waha_account, waha_connection, fake_waha, post_event, reported
):
    fake_waha.drop_rate = 0.3
    dropped = converse(fake_waha, post_event)
    assert 30 <= dropped <= 90 and Message.objects.count() == 200 - dropped

    assert sweep() == {waha_connection.pk: dropped}
    texts = sorted(Message.objects.values_list("text", flat=True))
    assert texts == sorted(f"message {n}" for n in range(200))  # each exactly once
    assert Message.objects.filter(direction=Message.SENT).count() == 67
    assert Message.objects.values("chat").distinct().count() == 10
    deliveries = Delivery.objects.values_list("message", flat=True)
    assert len(deliveries) == len(set(deliveries)) == 200  # reported once each

    fake_waha.calls.clear()
    with CaptureQueriesContext(db) as queries:
        assert sweep() == {waha_connection.pk: 0}
    assert len(fake_waha.calls) == 1 + len(CHATS)  # the chats, then each chat's messages
    # The lease (take, release), the accounts, then per account: its turn, known ids, counters,
    # its files still to fetch (tried again).
    assert len(queries) <= 2 + 1 + 4
    waha_connection.refresh_from_db()
    assert (waha_connection.last_recovered, waha_connection.recovered) == (0, dropped)


def test_status_updates_and_channels_are_not_read_back(waha_account, waha_connection, fake_waha):
    fake_waha.message("status@broadcast", "a story", participant="14151231234@c.us")
    fake_waha.message("120363999999999999@newsletter", "news")
    fake_waha.message("14151231234@c.us", "a real one")
    assert sweep() == {waha_connection.pk: 1}
    (read,) = [path for path in fake_waha.paths() if "/messages" in path]
    assert read.startswith("/api/default/chats/14151231234%40c.us/messages?limit=50&")


def test_the_echo_of_a_message_being_sent_is_not_recovered_as_a_new_one(
    waha_account, waha_chat, waha_connection, fake_waha
):
    from credits.models import grant
    from whatsapp.outbox import queue_message

    grant(waha_account.workspace, 5)
    message = queue_message(waha_chat, text="On its way", origin="web")
    Message.objects.filter(pk=message.pk).update(status=Message.SENDING)
    fake_waha.message("14151231234@c.us", "On its way", from_me=True, key="3EB0ECHO0001")
    assert sweep() == {waha_connection.pk: 0}
    message.refresh_from_db()
    assert Message.objects.count() == 1 and message.external_id == "3EB0ECHO0001"


def test_without_wahas_chat_list_it_reads_back_the_accounts_own_recent_chats(
    waha_account, waha_chat, waha_connection, fake_waha, post_event
):
    chats = "/api/default/chats?limit=20&offset=0&sortBy=conversationTimestamp&sortOrder=desc"
    fake_waha.reply("GET", chats, 404, {"message": "Cannot GET /api/default/chats"})
    post_event(fake_waha.event(fake_waha.message("14151231234@c.us", "first")))
    fake_waha.message("14151231234@c.us", "never reported")
    assert sweep() == {waha_connection.pk: 1}
    assert Message.objects.filter(text="never reported").count() == 1


def test_an_unreachable_waha_is_skipped_until_the_next_run(
    waha_account, waha_connection, fake_waha
):
    fake_waha.stop()
    assert sweep() == {waha_connection.pk: 0}
    waha_connection.refresh_from_db()
    assert waha_connection.swept_at is not None


def test_disconnected_accounts_are_not_swept(waha_account, waha_connection, fake_waha):
    waha_account.mark_disconnected()
    assert sweep() == {} and fake_waha.calls == []


def test_the_accounts_page_and_the_admin_show_what_sweeps_recovered(
    client, owner, admin_client, waha_account, waha_connection
):
    WahaConnection.objects.filter(pk=waha_connection.pk).update(last_recovered=3, recovered=17)
    client.force_login(owner)
    page = client.get(f"/w/{waha_account.workspace.pk}/accounts/").content.decode()
    assert "Recovered by reconciliation: 3 last time" in page and "17 in all" in page
    admin = admin_client.get("/admin/whatsapp/wahaconnection/").content.decode()
    assert "column-last_recovered" in admin and ">17<" in admin


def test_the_sweep_runs_on_a_schedule(db):
    from django_q.models import Schedule

    schedule = Schedule.objects.get(func="whatsapp.waha_sweep.sweep")
    assert schedule.schedule_type == Schedule.MINUTES and schedule.minutes == 5


def test_two_runs_never_sweep_at_once(waha_account, waha_connection, fake_waha):
    from timelines import workers
    from whatsapp.waha_sweep import LEASE, lease_seconds

    token = workers.take(LEASE, lease_seconds())  # a run in progress
    assert sweep() == {} and fake_waha.calls == []
    workers.release(LEASE, token)
    assert sweep() == {waha_connection.pk: 0}
