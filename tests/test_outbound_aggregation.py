"""O4: bundles per chat every G hours, windows aligned to UTC, late messages, granularity
changes, big bundles split, and queries per batch of chats rather than per message."""

import html
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.outbound_helpers import seed_example, shape
from webhooks.outbound import aggregation, dispatch
from webhooks.outbound.models import Delivery, PendingMessage
from whatsapp.models import Chat, Message
from whatsapp.store import store_message

START = datetime(2026, 3, 2, 9, 10, tzinfo=UTC)


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def other_chat(account):
    chat, _ = Chat.get_or_create_direct(account, "+14155552671", "Ann <Sales> & Co")
    return chat


def at(clock, hour, minute, second=0, day=2):
    clock.move_to(datetime(2026, 3, day, hour, minute, second, tzinfo=UTC))


def say(chat, text, direction=Message.RECEIVED, **fields):
    return store_message(chat, direction=direction, origin="contact", text=text, **fields)


def send_closed_windows():
    aggregation.close_due_windows()
    dispatch.deliver_due()


def texts(body):
    return [m["text"] for m in body["messages"]]


def test_it_bundles_an_hour_per_chat_after_the_window_closes(
    outbound, receiver, clock, chat, other_chat
):
    outbound.configure(granularity=1)
    at(clock, 9, 15)
    first = say(chat, "Hi! How are you?")
    at(clock, 9, 20)
    say(other_chat, "<b>bold</b> & 'quoted'")
    at(clock, 9, 40)
    say(chat, "I am fine", direction=Message.SENT)
    at(clock, 9, 59, 59)
    send_closed_windows()
    assert receiver.requests == []
    at(clock, 10, 0, 30)
    send_closed_windows()
    bodies = {b["chat"]["chat_id"]: b for b in receiver.bodies()}
    assert set(bodies) == {chat.chat_id, other_chat.chat_id}
    body = bodies[chat.chat_id]
    assert shape(body) == shape(seed_example("seed_bundle"))
    assert texts(body) == ["Hi! How are you?", "I am fine"]
    assert body["first_message_timestamp"] == "2026-03-02T09:15:00+0000"
    assert body["last_message_timestamp"] == "2026-03-02T09:40:00+0000"
    assert body["aggregation"] == (
        "from John Doe on 2026-03-02 09:15: Hi! How are you?<br/>"
        "from Olive Owner on 2026-03-02 09:40: I am fine<br/>"
        f"Click <a href='{html.escape(first.permalink)}'>here</a> "
        "to open the conversation in Timelines"
    )
    escaped = bodies[other_chat.chat_id]["aggregation"]
    assert "from Ann &lt;Sales&gt; &amp; Co on 2026-03-02 09:20: " in escaped
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; &#x27;quoted&#x27;" in escaped


def test_a_message_on_the_boundary_belongs_to_the_next_window(outbound, receiver, clock, chat):
    outbound.configure(granularity=1)
    at(clock, 9, 59, 59)
    say(chat, "before")
    at(clock, 10, 0, 0)
    say(chat, "after")
    at(clock, 10, 0, 40)
    send_closed_windows()
    at(clock, 11, 0, 40)
    send_closed_windows()
    assert [texts(b) for b in receiver.bodies()] == [["before"], ["after"]]


def test_late_messages_join_their_window_or_else_the_next_bundle(outbound, receiver, clock, chat):
    outbound.configure(granularity=1)
    at(clock, 9, 30)
    say(chat, "on time")
    at(clock, 10, 0, 10)  # the window has closed but is not bundled yet
    say(chat, "late, in time", timestamp=datetime(2026, 3, 2, 9, 58, tzinfo=UTC))
    at(clock, 10, 0, 30)
    send_closed_windows()
    at(clock, 10, 10)  # the 9-10 window is gone: next bundle
    say(chat, "too late", timestamp=datetime(2026, 3, 2, 9, 59, tzinfo=UTC))
    at(clock, 10, 20)
    say(chat, "current")
    at(clock, 11, 0, 30)
    send_closed_windows()
    assert [texts(b) for b in receiver.bodies()] == [
        ["on time", "late, in time"],
        ["too late", "current"],
    ]


def test_it_bundles_a_whole_utc_day_at_24_hours(outbound, receiver, clock, chat, account):
    at(clock, 9, 11)  # the chat exists from before the window
    outbound.configure(granularity=24)
    assert outbound.window_end == datetime(2026, 3, 3, tzinfo=UTC)
    at(clock, 13, 0)
    say(chat, "afternoon")
    at(clock, 23, 59)
    group, _ = Chat.get_or_create_group(account, "120363000000000001@g.us", "Night owls")
    say(group, "late night", sender_name="Bob", sender_phone="+14155550101")
    at(clock, 23, 59, 59)
    send_closed_windows()
    assert receiver.requests == []
    at(clock, 0, 0, 45, day=3)
    send_closed_windows()
    bodies = {b["chat"]["full_name"]: b for b in receiver.bodies()}
    assert texts(bodies["John Doe"]) == ["afternoon"]
    assert bodies["John Doe"]["chat"]["is_new_chat"] is False  # created before the window
    night = bodies["Night owls"]
    assert night["chat"]["is_group"] is True and night["chat"]["is_new_chat"] is True
    assert night["messages"][0]["sender"] == {"full_name": "Bob", "phone": ""}
    outbound.refresh_from_db()
    assert outbound.window_end == datetime(2026, 3, 4, tzinfo=UTC)


def test_a_granularity_change_takes_effect_from_the_next_window(outbound, receiver, clock, chat):
    outbound.configure(granularity=1)
    at(clock, 9, 20)
    say(chat, "one")
    at(clock, 9, 30)
    outbound.configure(granularity=24)
    at(clock, 9, 45)
    say(chat, "two")
    at(clock, 10, 0, 30)
    send_closed_windows()  # the open 1-hour window still closes at 10:00
    at(clock, 11, 0)
    say(chat, "three")
    at(clock, 12, 0, 30)
    send_closed_windows()  # nothing: the next window is the rest of the day
    at(clock, 0, 0, 30, day=3)
    send_closed_windows()
    assert [texts(b) for b in receiver.bodies()] == [["one", "two"], ["three"]]


def test_switching_aggregation_off_and_on_loses_and_repeats_nothing(
    outbound, receiver, clock, chat
):
    outbound.configure(granularity=1)
    at(clock, 9, 20)
    say(chat, "bundled")
    outbound.configure(granularity=0)
    at(clock, 9, 40)
    say(chat, "bundled too")  # the open window still collects
    at(clock, 10, 0, 30)
    send_closed_windows()
    at(clock, 10, 5)
    say(chat, "alone")
    dispatch.deliver_due()
    outbound.configure(granularity=6)
    say(chat, "six-hourly")
    at(clock, 12, 0, 30)
    send_closed_windows()
    sent = [texts(b) if "messages" in b else b["message"]["text"] for b in receiver.bodies()]
    assert sent == [["bundled", "bundled too"], "alone", ["six-hourly"]]
    assert not PendingMessage.objects.exists()


def test_it_splits_a_bundle_larger_than_500_messages(outbound, receiver, clock, chat):
    outbound.configure(granularity=1)
    messages = [
        Message(
            chat=chat,
            account_id=chat.account_id,
            direction="received",
            origin="contact",
            text=f"m{i}",
            timestamp=START + timedelta(seconds=i),
        )
        for i in range(1201)
    ]
    Message.objects.bulk_create(messages)
    saved = Message.objects.filter(chat=chat).order_by("timestamp")
    PendingMessage.objects.bulk_create(
        PendingMessage(webhook=outbound, chat=chat, message=m, timestamp=m.timestamp) for m in saved
    )
    at(clock, 10, 0, 30)
    send_closed_windows()
    sizes = [len(b["messages"]) for b in receiver.bodies()]
    assert sizes == [500, 500, 201]
    assert [b["messages"][0]["text"] for b in receiver.bodies()] == ["m0", "m500", "m1000"]


def test_it_does_not_bundle_messages_stored_while_disabled(outbound, receiver, clock, chat):
    outbound.configure(granularity=1)
    at(clock, 9, 20)
    say(chat, "kept")
    outbound.disable()
    say(chat, "while off")
    at(clock, 10, 0, 30)
    aggregation.close_due_windows()
    outbound.enable()
    dispatch.deliver_due()
    assert [texts(b) for b in receiver.bodies()] == [["kept"]]


def fill(outbound, account, chats, per_chat):
    for c in range(chats):
        chat, _ = Chat.get_or_create_direct(account, f"+1415555{c:04d}", f"Chat {c}")
        for i in range(per_chat):
            say(chat, f"{c}-{i}")


def bundling_queries(clock):
    at(clock, 10, 0, 30)
    with CaptureQueriesContext(connection) as queries:
        made = aggregation.close_due_windows()
    return made, len(queries)


@pytest.mark.parametrize("per_chat", [2, 20])
def test_it_bundles_with_a_constant_number_of_queries_per_batch(
    outbound, account, clock, per_chat, monkeypatch
):
    monkeypatch.setattr(aggregation, "CHATS_PER_BATCH", 4)
    outbound.configure(granularity=1)
    at(clock, 9, 30)
    fill(outbound, account, chats=8, per_chat=per_chat)
    made, queries = bundling_queries(clock)
    assert made == 8
    # The same count for 2 or 20 messages a chat: 4 to find and claim the window, 8 per batch of
    # 4 chats (savepoint, chats, their messages, chat rows, accounts, insert, delete, release),
    # 3 to see that nothing is left.
    assert queries == 4 + 8 * 2 + 3
    assert Delivery.objects.filter(kind=Delivery.BUNDLE).count() == 8
