"""SPEC G5: `send_at` and `expires_at` on the inbound endpoint. A scheduled message stays
`scheduled` (credits reserved) until its time, then leaves at the seed's pace; one not handed to
WhatsApp by `expires_at` fails as `expired` and is refunded. Integrations that send neither see
no difference."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import TestCase

from credits.models import Balance
from tests.inbound_helpers import assert_error, post
from tests.sender_helpers import gaps, sent_times
from whatsapp import sender
from whatsapp.governor import pauses
from whatsapp.models import Message
from whatsapp.sender.clock import FakeClock

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def at_eight():
    with time_machine.travel(NOW, tick=False):
        yield


def send(client, webhook, chat, **fields):
    body = {"action": "send", "chat_id": chat.chat_id, "text": "hi", **fields}
    with TestCase.captureOnCommitCallbacks(execute=True):  # the wake, as after a commit
        return post(client, webhook, body)


def lookup(client, webhook, message_id):
    return client.get(f"{webhook.path}messages/{message_id}/").json()["data"]


@pytest.mark.parametrize(
    "given",
    ["2026-03-01T10:00:00+01:00", "2026-03-01 09:00:00 +0000", "2026-03-01T09:00:00Z"],
)
def test_it_schedules_a_message_and_says_when(client, inbound_webhook, chat, given):
    response = send(client, inbound_webhook, chat, send_at=given)
    assert response.status_code == 200
    data = lookup(client, inbound_webhook, response.json()["data"]["message_id"])
    assert data["status"] == "scheduled" and data["send_at"] == "2026-03-01T09:00:00Z"
    assert Balance.of(inbound_webhook.workspace) == 99  # reserved at acceptance


@pytest.mark.parametrize(
    "field, value, words",
    [
        ("send_at", "2026-03-01T09:00:00", "has no UTC offset"),
        ("send_at", "tomorrow at nine", "is not a time"),
        ("send_at", 1772355600, "must be a time"),
        ("send_at", "2026-04-15T09:00:00+00:00", "more than 30 days ahead"),
        ("expires_at", "2026-03-01 09:00:00", "has no UTC offset"),
        ("expires_at", "2026-03-01T07:00:00Z", "would expire before it could be sent"),
    ],
)
def test_it_refuses_a_bad_time_naming_the_field(client, inbound_webhook, chat, field, value, words):
    response = send(client, inbound_webhook, chat, **{field: value})
    assert_error(response, 400, f'"{field}"', words)
    assert Message.objects.count() == 0 and Balance.of(inbound_webhook.workspace) == 100


def test_a_past_time_means_now(client, inbound_webhook, chat):
    response = send(client, inbound_webhook, chat, send_at="2026-02-28T09:00:00+00:00")
    data = lookup(client, inbound_webhook, response.json()["data"]["message_id"])
    assert data["status"] == "queued" and "send_at" not in data


def test_scheduled_messages_leave_at_their_time_at_the_seeds_pace(client, inbound_webhook, chat):
    ids = [
        send(client, inbound_webhook, chat, text=f"m{n}", send_at="2026-03-01T09:00:00Z").json()
        for n in range(4)
    ]
    clock = FakeClock(NOW)
    sender.drain_now(clock)
    assert Message.objects.filter(status=Message.SCHEDULED).count() == 4  # not before its time
    clock.current = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    sender.drain_now(clock)
    messages = [Message.objects.get(message_id=i["data"]["message_id"]) for i in ids]
    times = sent_times(messages)
    assert times[0] >= clock.current - timedelta(seconds=10) and times == sorted(times)
    assert all(1.5 <= gap <= 2.5 for gap in gaps(times)), gaps(times)


def test_a_message_held_past_its_expiry_fails_as_expired_and_is_refunded(
    client, inbound_webhook, chat, account
):
    pauses.pause(account.pk, "all", None, pauses.OWNER_PAUSE, by_owner=True)
    response = send(client, inbound_webhook, chat, expires_at="2026-03-01T08:30:00+00:00")
    message_id = response.json()["data"]["message_id"]
    assert lookup(client, inbound_webhook, message_id)["expires_at"] == "2026-03-01T08:30:00Z"
    assert sender.tick(datetime(2026, 3, 1, 8, 29, tzinfo=UTC))["expired_by_request"] == 0
    assert sender.tick(datetime(2026, 3, 1, 8, 31, tzinfo=UTC))["expired_by_request"] == 1
    data = lookup(client, inbound_webhook, message_id)
    assert (data["status"], data["error"]) == ("failed", "expired")
    assert Balance.of(inbound_webhook.workspace) == 100


def test_the_sender_expires_a_message_it_finds_too_late(client, inbound_webhook, chat):
    response = send(client, inbound_webhook, chat, expires_at="2026-03-01T08:00:01+00:00")
    clock = FakeClock(NOW + timedelta(seconds=5))
    assert sender.drain_now(clock).failed == 1
    data = lookup(client, inbound_webhook, response.json()["data"]["message_id"])
    assert (data["status"], data["error"]) == ("failed", "expired")
    assert Balance.of(inbound_webhook.workspace) == 100


def test_a_backlog_starts_every_account_first(workspace, owner, chat):
    from tests.sender_helpers import other_account, other_chat
    from whatsapp.sender import scheduled

    others = [other_account(workspace, owner, f"+1510556000{n}") for n in (1, 2)]
    chats = [chat] + [other_chat(account) for account in others]
    at = NOW - timedelta(seconds=1)
    made = [
        Message.objects.create(
            chat=c,
            direction="sent",
            origin="api",
            text=f"{n}",
            status="scheduled",
            send_at=at,
            credits=1,
        )  # fmt: skip
        for c in chats
        for n in range(4)
    ]
    assert scheduled.release_due(NOW, batch=3) == 3
    queued = Message.objects.filter(status="queued")
    started = sorted(queued.values_list("account_id", flat=True))
    assert started == sorted(c.account_id for c in chats)
    assert set(queued.values_list("text", flat=True)) == {"0"}  # each account's first
    assert scheduled.release_all_due(NOW) == len(made) - 3
