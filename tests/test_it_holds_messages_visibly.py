"""SPEC G2: a message held by the governor stays queued with its credits reserved, says why and
until when (status lookup, chat page, v2 status event), and leaves in order at the seed's pace
when the hold ends — never as a burst."""

from datetime import UTC, datetime, time, timedelta

import pytest

from credits.models import Balance, grant
from tests.sender_helpers import gaps, other_chat, queue, sent_times
from webhooks.inbound.service import message_status
from whatsapp import sender
from whatsapp.governor import pauses
from whatsapp.models import Account, Message
from whatsapp.sender.clock import FakeClock
from whatsapp.sender.scheduled import release_all_due

# 20:30 in Warsaw (UTC+1 in winter): inside quiet hours 20:00-08:00, which end at 07:00 UTC.
EVENING = datetime(2026, 1, 15, 19, 30, tzinfo=UTC)
QUIET_END = datetime(2026, 1, 16, 7, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def credits(workspace):
    grant(workspace, 100)


def balance(workspace):
    return Balance.objects.get(workspace=workspace).balance


def lookup(inbound_webhook, message):
    return message_status(inbound_webhook, message.message_id)


def quiet(account):
    account.quiet_from, account.quiet_to, account.time_zone = time(20), time(8), "Europe/Warsaw"
    account.save()


def test_it_holds_quiet_hours_then_sends_in_order_at_the_pace(
    inbound_webhook, workspace, account, chat, time_machine
):
    quiet(account)
    time_machine.move_to(EVENING, tick=False)
    messages = queue(chat, 4)
    before = balance(workspace)
    clock = FakeClock(EVENING)
    dispatcher = sender.Dispatcher(clock=clock, threads=0)
    dispatcher.step()
    assert Message.objects.filter(status=Message.QUEUED).count() == 4
    assert balance(workspace) == before  # still reserved
    data = lookup(inbound_webhook, messages[0])
    assert data["status"] == "queued"
    assert data["waiting"] == {"reason": "quiet_hours", "until": "2026-01-16T07:00:00Z"}
    account.refresh_from_db()
    assert account.next_send_at == QUIET_END  # the claim does not see it before then
    sender.drain_now(clock)
    times = sent_times(messages)
    assert times[0] >= QUIET_END and times == sorted(times)
    assert all(1.5 <= gap <= 2.5 for gap in gaps(times)), gaps(times)


def test_it_sends_what_the_daily_cap_allows_and_holds_the_rest_for_the_next_day(
    inbound_webhook, account, chat, time_machine, django_capture_on_commit_callbacks
):
    account.new_contacts_per_day, account.time_zone = 1, "Europe/Warsaw"
    account.save()
    known = other_chat(account, "+14155550111", "Known")
    sender_of_known = account.get_transport()
    sender_of_known.receive(from_phone=known.phone, text="hello, write me")
    time_machine.move_to(EVENING, tick=False)
    first = queue(chat, 2, "to John")
    stranger = queue(other_chat(account, "+14155550122", "Stranger"), 1, "to stranger")
    to_known = queue(known, 1, "to known")
    clock = FakeClock(EVENING)
    sender.drain_now(clock)
    assert [Message.objects.get(pk=m.pk).status for m in first] == ["sent", "sent"]
    assert Message.objects.get(pk=to_known[0].pk).status == "sent"  # not a new contact
    held = Message.objects.get(pk=stranger[0].pk)
    assert held.status == "queued"
    data = lookup(inbound_webhook, held)
    # The next day starts at midnight in Warsaw: 23:00 UTC.
    assert data["waiting"] == {"reason": "new_contact_limit", "until": "2026-01-15T23:00:00Z"}
    next_day = datetime(2026, 1, 15, 23, 0, 30, tzinfo=UTC)
    time_machine.move_to(next_day, tick=False)
    with django_capture_on_commit_callbacks(execute=True):
        sender.tick(next_day)
    sender.drain_now(FakeClock(next_day))
    assert Message.objects.get(pk=held.pk).status == "sent"


def test_it_keeps_a_chats_messages_in_order_behind_a_held_one(
    account, chat, time_machine, django_capture_on_commit_callbacks
):
    account.new_contacts_per_day = 0
    account.save()
    time_machine.move_to(EVENING, tick=False)
    messages = queue(chat, 3)
    sender.drain_now(FakeClock(EVENING))
    assert all(m.hold_reason == "new_contact_limit" for m in Message.objects.all())
    # The contact writes meanwhile: the chat is no longer new, but its held messages go first.
    account.get_transport().receive(from_phone=chat.phone, text="hi?")
    later = queue(chat, 1, "later")
    sender.drain_now(FakeClock(EVENING))
    assert Message.objects.get(pk=later[0].pk).status == "queued"
    with django_capture_on_commit_callbacks(execute=True):
        pauses.resume(account.pk)  # releases the held ones; the policy decides again
    sender.drain_now(FakeClock(EVENING))
    times = sent_times(messages + later)
    assert None not in times and times == sorted(times)


def test_it_holds_a_paused_account_until_resumed(
    inbound_webhook, account, chat, django_capture_on_commit_callbacks
):
    pauses.pause(account.pk, "all", None, pauses.OWNER_PAUSE, by_owner=True)
    messages = queue(chat, 3)
    sender.drain_now()
    assert Message.objects.filter(status=Message.QUEUED).count() == 3
    data = lookup(inbound_webhook, messages[2])
    assert data["waiting"] == {"reason": "account_paused", "until": None}
    with django_capture_on_commit_callbacks(execute=True):
        pauses.resume(account.pk)
    sender.drain_now()
    times = sent_times(messages)
    assert times == sorted(times) and all(1.5 <= gap <= 2.5 for gap in gaps(times))


def test_it_shows_why_on_the_chat_page(client, owner, account, chat):
    pauses.pause(account.pk, "all", None, pauses.OWNER_PAUSE, by_owner=True)
    queue(chat, 1)
    client.force_login(owner)
    page = client.get(f"/chat/{chat.pk}/messages/").content.decode()
    assert 'data-waiting="account_paused"' in page
    assert "sending is paused on this account, until it is resumed" in page


def test_it_announces_a_held_message_in_a_v2_status_event(account, chat, subscribe, receiver):
    from webhooks.endpoints.models import Event

    subscribe("message:status:changed")
    account.new_contacts_per_day = 0
    account.save()
    [message] = queue(chat, 1)
    sender.drain_now()
    event = Event.objects.get(kind="message:status:changed")
    body = event.payload["message"]
    assert body["message_uid"] == message.message_id
    assert body["status"] == "queued"
    assert body["waiting"]["reason"] == "new_contact_limit"
    assert body["waiting"]["until"].endswith("+0000")


def test_it_leaves_unheld_lookups_as_they_were(inbound_webhook, chat):
    [message] = queue(chat, 1)
    assert "waiting" not in lookup(inbound_webhook, message)
    release_all_due()
    assert "waiting" not in lookup(inbound_webhook, message)


def test_a_policy_change_looks_again_at_once(account, chat, time_machine):
    quiet(account)
    time_machine.move_to(EVENING, tick=False)
    messages = queue(chat, 2)
    clock = FakeClock(EVENING)
    sender.Dispatcher(clock=clock, threads=0).step()
    assert Account.objects.get(pk=account.pk).next_send_at == QUIET_END
    from whatsapp.governor.policy import set_policy

    set_policy(account, quiet_from=None, quiet_to=None)
    sender.drain_now(clock)
    times = sent_times(messages)
    assert times[0] < EVENING + timedelta(seconds=5) and times == sorted(times)
