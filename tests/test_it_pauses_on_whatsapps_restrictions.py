"""SPEC G3: WhatsApp's restrictions pause the account instead of failing messages. A 463 (no new
chats for a while) pauses messages to new contacts; a 475 or a CAPPED state pauses all sending;
until the end WAHA reports (the capping/timelock endpoints on servers of 2026.8 and later, else
24 h) or the owner resumes. The message that met it goes back to the queue (not failed, not
refunded); the owner gets one email; Webhooks v2 get whatsapp_account:paused / :resumed. At most
one further transport call for the account after the refusal."""

from datetime import UTC, datetime, timedelta

import pytest
from django.test import TestCase
from django.utils import timezone

from credits.models import Balance, grant
from tests.fake_waha import fixture
from tests.sender_helpers import other_chat
from webhooks.endpoints.models import Event
from whatsapp import sender
from whatsapp.governor import pauses, waha
from whatsapp.models import Account, Message, WahaConnection
from whatsapp.outbox import queue_message
from whatsapp.sender.clock import FakeClock
from whatsapp.store import store_message

NEW_SERVER = {"version": "2026.8.1", "tier": "CORE", "engine": "GOWS"}
NEW_WEBJS = {"version": "2026.8.1", "tier": "CORE", "engine": "WEBJS"}  # capping: 501
OLD_SERVER = {"version": "2026.7.1", "tier": "CORE"}
CYCLE_END = datetime(2030, 1, 2, 3, 4, tzinfo=UTC)


@pytest.fixture(autouse=True)
def credits(workspace):
    grant(workspace, 50)


def queue(chat, count, text="hello"):
    messages = []
    for n in range(count):
        with TestCase.captureOnCommitCallbacks(execute=True):
            messages.append(queue_message(chat, text=f"{text} {n}", origin="api"))
    return messages


def drain_for(seconds=60):
    """Run a dispatcher on a fake clock for `seconds` (a pause lasts longer than a test)."""
    clock = FakeClock()
    end = clock.now() + timedelta(seconds=seconds)
    dispatcher = sender.Dispatcher(clock=clock, threads=0)
    while clock.now() < end:
        pause = dispatcher.step()
        if pause is None or clock.now() + timedelta(seconds=pause) > end:
            break
        clock.sleep(pause)
    return dispatcher


def statuses(messages):
    return [Message.objects.get(pk=m.pk).status for m in messages]


def posts_after_refusal(fake_waha):
    """Send calls made after the first refused one."""
    first = fake_waha.refused[0][0]
    return [s for s in fake_waha.sent if s[0] > first] + fake_waha.refused[1:]


@pytest.mark.parametrize("waha_server", [NEW_SERVER], indirect=False)
def test_it_pauses_new_contacts_on_463_and_keeps_existing_chats_going(
    waha_account, waha_chat, fake_waha, subscribe, mailoutbox
):
    subscribe("whatsapp_account:paused")
    fake_waha.timelock = {"isActive": True, "timeEnforcementEnds": CYCLE_END.isoformat()}
    known = other_chat(waha_account, "+14155550111", "Known")
    fake_waha.history["14155550111@c.us"] = [{"timestamp": 1}]
    store_message(known, direction="received", origin="contact", text="hi")
    to_new = queue(waha_chat, 2, "to John")
    to_known = queue(known, 2, "to Known")
    to_other_new = queue(other_chat(waha_account, "+14155550122", "Stranger"), 1, "to Ann")
    balance = Balance.of(waha_account.workspace)
    with TestCase.captureOnCommitCallbacks(execute=True):
        drain_for()
    assert len(fake_waha.refused) == 1 and fake_waha.refused[0][2] == 463
    # Only existing chats were called after the 463; new contacts wait, queued and reserved.
    later = posts_after_refusal(fake_waha)
    assert all(chat == "14155550111@c.us" for _, chat, *_ in later)
    assert statuses(to_known) == ["sent", "sent"]
    assert statuses(to_new + to_other_new) == ["queued"] * 3
    assert Balance.of(waha_account.workspace) == balance
    account = Account.objects.get(pk=waha_account.pk)
    assert account.paused == "new_contacts" and account.paused_until == CYCLE_END
    assert "error 463" in account.pause_reason
    assert len(mailoutbox) == 1 and "paused" in mailoutbox[0].subject
    event = Event.objects.get(kind="whatsapp_account:paused")
    until = "2030-01-02 03:04:00 +0000"
    assert event.payload["paused"] == {"scope": "new_contacts", "until": until}


@pytest.mark.parametrize(
    "waha_server, until",
    # Older servers have no capping endpoint, engines but GOWS cannot read it: then 24 h.
    [(NEW_SERVER, CYCLE_END), (OLD_SERVER, None), (NEW_WEBJS, None)],
)
def test_it_pauses_all_sending_on_475_within_one_send(
    waha_account, waha_chat, fake_waha, subscribe, mailoutbox, until
):
    subscribe("whatsapp_account:paused")
    subscribe("message:status:changed")
    end = "2030-01-02T03:04:00Z"
    fake_waha.capping = {"cappingStatus": "CAPPED", "usedQuota": 1000, "cycleEnd": end}
    messages = queue(waha_chat, 3) + queue(other_chat(waha_account), 2)
    balance = Balance.of(waha_account.workspace)
    started = timezone.now()
    with TestCase.captureOnCommitCallbacks(execute=True):
        drain_for()
    assert [code for *_, code in fake_waha.refused] == [475]
    assert posts_after_refusal(fake_waha) == []  # not one more call
    assert statuses(messages) == ["queued"] * 5
    first = Message.objects.get(pk=messages[0].pk)
    assert first.send_attempts == 0 and first.error == ""  # back in the queue, not failed
    assert Balance.of(waha_account.workspace) == balance  # nothing refunded: still reserved
    account = Account.objects.get(pk=waha_account.pk)
    assert account.paused == "all"
    if until:
        assert account.paused_until == until
    else:
        hours = (account.paused_until - started).total_seconds() / 3600
        assert 23.9 < hours < 24.1
    assert len(mailoutbox) == 1
    assert Event.objects.filter(kind="whatsapp_account:paused").count() == 1
    held = Event.objects.get(kind="message:status:changed").payload["message"]
    assert held["status"] == "queued" and held["waiting"]["reason"] == "account_paused"
    if fake_waha.version == OLD_SERVER["version"]:
        capping_calls = [p for p in fake_waha.paths("GET") if p.endswith("/capping")]
        assert capping_calls == []  # not asked of a server that has no such endpoint


@pytest.mark.parametrize("waha_server", [NEW_SERVER])
def test_it_resumes_when_the_owner_says_and_sends_in_order(
    waha_account, waha_chat, fake_waha, subscribe
):
    subscribe("whatsapp_account:resumed")
    fake_waha.capping = {"cappingStatus": "CAPPED", "cycleEnd": "2030-01-02T03:04:00Z"}
    messages = queue(waha_chat, 3)
    drain_for()
    fake_waha.capping = {"cappingStatus": "NONE", "cycleEnd": None}
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert pauses.resume(waha_account.pk)
    drain_for()
    assert statuses(messages) == ["sent"] * 3
    texts = [text for _, _, text, _ in fake_waha.sent]
    assert texts == ["hello 0", "hello 1", "hello 2"]
    assert Event.objects.filter(kind="whatsapp_account:resumed").count() == 1


@pytest.mark.parametrize("waha_server", [NEW_SERVER])
def test_it_ends_the_pause_when_its_time_is_over(waha_account, waha_chat, fake_waha):
    fake_waha.capping = {"cappingStatus": "CAPPED", "cycleEnd": "2030-01-02T03:04:00Z"}
    queue(waha_chat, 1)
    drain_for()
    assert sender.tick(CYCLE_END - timedelta(minutes=1))["pauses_ended"] == 0
    assert sender.tick(CYCLE_END + timedelta(minutes=1))["pauses_ended"] == 1
    assert Account.objects.get(pk=waha_account.pk).paused == ""


@pytest.mark.parametrize("waha_server, checked", [(NEW_SERVER, True), (OLD_SERVER, False)])
def test_the_sweep_pauses_a_capped_account_before_whatsapp_refuses(
    waha_account, waha_chat, fake_waha, checked
):
    fake_waha.engine = "GOWS"  # the engine WAHA reads the capping with
    fake_waha.capping = {"cappingStatus": "CAPPED", "usedQuota": 1000, "cycleEnd": 1893553440}
    connection = WahaConnection.objects.get(account=waha_account)
    assert waha.watch_capping(connection) == ("CAPPED" if checked else "")
    account = Account.objects.get(pk=waha_account.pk)
    assert (account.paused == "all") is checked
    if checked:
        queue(waha_chat, 1)
        drain_for()
        assert fake_waha.paths("POST") == [] and fake_waha.refused == []


def test_a_warning_state_does_not_pause(waha_account, fake_waha):
    fake_waha.version, fake_waha.engine = "2026.8.1", "GOWS"
    WahaConnection.objects.filter(account=waha_account).update(server={"version": "2026.8.1"})
    fake_waha.capping = {"cappingStatus": "SECOND_WARNING", "usedQuota": 900, "cycleEnd": None}
    connection = WahaConnection.objects.get(account=waha_account)
    assert waha.watch_capping(connection) == "SECOND_WARNING"
    assert Account.objects.get(pk=waha_account.pk).paused == ""


def test_a_session_status_that_reports_capping_pauses_the_account(post_event, waha_account):
    capping = {"cappingStatus": "CAPPED", "cycleEnd": "2030-01-02T03:04:00Z"}
    post_event(fixture("session_status", me={"id": "15105566777@c.us", "messageCapping": capping}))
    account = Account.objects.get(pk=waha_account.pk)
    assert (account.paused, account.paused_until) == ("all", CYCLE_END)
