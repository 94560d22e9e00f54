"""SPEC G3 and G5 in the production shape (gunicorn, two qcluster processes, PostgreSQL, Redis),
with the fake WAHA of 2026.8 (GOWS):

- WhatsApp answers 463 to a first message to a new contact, then 475 once the account's quota
  is used up: the account is paused (new contacts, then all sending) within one send — no
  further call reaches WAHA for what the pause covers — and the messages that met the refusals
  wait, queued, neither failed nor refunded, while the existing chat's messages go on until the
  475.
- DELETE races the sender: every message ends either cancelled and refunded (WAHA never got it)
  or sent (and not refunded) — never both.
"""

import random
import threading
import time

import pytest

from credits.models import LedgerEntry
from tests.fake_waha import FakeWaha
from tests.production.clusters import swapped_clusters
from tests.production.helpers import next_number, post, waha_tenant, wait_for
from whatsapp.models import Account, Chat, Message
from whatsapp.store import store_message

pytestmark = pytest.mark.production

NEW_CONTACT = "+14151239001"
KNOWN_CONTACT = "+14151239002"
FINAL = (Message.SENT, Message.DELIVERED, Message.READ, Message.FAILED, Message.CANCELLED)


@pytest.fixture(scope="module")
def clusters(server):
    # The sender reaches the fake WAHA on 127.0.0.1.
    with swapped_clusters(server, "governor", ALLOW_PRIVATE_URLS="true") as processes:
        yield processes


@pytest.fixture
def waha(orm):
    fake = FakeWaha(version="2026.8.1", engine="GOWS").start()
    fake.status = "WORKING"
    yield fake
    fake.stop()


@pytest.fixture
def shop(orm, waha):
    return waha_tenant("Governed", waha, credits=60)


def send(server, shop, text, phone):
    body = {"action": "send", "text": text, "phone": phone}
    answer = post(server, shop.path, {**body, "whatsapp_account_phone": shop.account.phone})
    assert answer.status == 200, answer
    return answer.json()["data"]["message_id"]


def refunds(message_id):
    return LedgerEntry.objects.filter(message_ref=message_id, kind=LedgerEntry.REFUND).count()


def test_463_then_475_pause_the_account_within_one_send(server, clusters, shop, waha):
    known = Chat.get_or_create_direct(shop.account, KNOWN_CONTACT, "Known")[0]
    store_message(known, direction="received", origin="contact", text="hello, write back")
    waha.history["14151239002@c.us"] = [{"timestamp": 1}]
    waha.timelock = {"isActive": True, "timeEnforcementEnds": "2030-01-02T03:04:00Z"}
    new_ids = [send(server, shop, f"new {n}", NEW_CONTACT) for n in range(2)]
    known_ids = [send(server, shop, f"known {n}", KNOWN_CONTACT) for n in range(3)]
    wait_for(lambda: waha.refused, 60, "WhatsApp's 463")
    wait_for(
        lambda: all(Message.objects.get(message_id=i).status == "sent" for i in known_ids),
        60,
        "the existing chat's messages to go on",
    )
    account = Account.objects.get(pk=shop.account.pk)
    assert account.paused == "new_contacts" and account.paused_until.year == 2030
    # Not one more call for a new contact after the 463.
    new_chat = "14151239001@c.us"
    assert [chat for _, chat, _ in waha.refused] == [new_chat]
    assert not [s for s in waha.sent if s[1] == new_chat]

    waha.capping = {**waha.capping, "cappingStatus": "CAPPED", "cycleEnd": "2030-02-03T04:05:06Z"}
    later = [send(server, shop, f"known later {n}", KNOWN_CONTACT) for n in range(3)]
    wait_for(lambda: len(waha.refused) == 2, 60, "WhatsApp's 475")
    refused_at = waha.refused[1][0]
    time.sleep(8)  # several gaps: nothing more may reach WAHA
    assert [code for _, _, code in waha.refused] == [463, 475]
    assert [s for s in waha.sent if s[0] > refused_at] == []
    account.refresh_from_db()
    assert account.paused == "all" and account.paused_until.month == 2
    waiting = Message.objects.filter(message_id__in=new_ids + later)
    assert sorted(m.status for m in waiting) == ["queued"] * 5
    assert all(refunds(i) == 0 for i in new_ids + later)
    assert shop.balance() == 60 - 8 and shop.ledger_total() == shop.balance()


def test_a_cancel_racing_the_sender_ends_cancelled_and_refunded_or_sent(
    server, clusters, shop, waha
):
    contact = next_number("+1415123")
    ids = [send(server, shop, f"m{n}", contact) for n in range(12)]
    answers = {}
    # The race is timed from the first send WhatsApp sees (posting the twelve may take a while
    # on a busy machine); messages then leave about 2 s apart.
    wait_for(lambda: waha.sent, 60, "the first send")
    first = waha.sent[0][0]

    def cancel(index, message_id):
        # Around the moment the sender reaches it.
        time.sleep(max(0.0, first + index * 2.0 + random.uniform(-1.0, 1.0) - time.time()))
        answers[message_id] = post(
            server, f"{shop.path}messages/{message_id}/", b"", method="DELETE"
        )

    racing = [(n, i) for n, i in enumerate(ids[:-1]) if n % 2]
    # And one that cannot lose the race: the last message, cancelled at once.
    threads = [threading.Thread(target=cancel, args=a) for a in [*racing, (-10, ids[-1])]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wait_for(
        lambda: all(m.status in FINAL for m in Message.objects.filter(message_id__in=ids)),
        90,
        "every message to be sent or cancelled",
    )
    time.sleep(3)
    by_id = {m.message_id: m for m in Message.objects.filter(message_id__in=ids)}
    sent_texts = [text for _, _, text, _ in waha.sent]
    outcomes = {"cancelled": 0, "sent": 0}
    for n, message_id in enumerate(ids):
        message, answer = by_id[message_id], answers.get(message_id)
        reached_waha = f"m{n}" in sent_texts
        if message.status == Message.CANCELLED:
            assert answer.status == 200 and answer.json()["data"]["refunded_credits"] == 1
            assert not reached_waha and refunds(message_id) == 1
            outcomes["cancelled"] += 1
        else:
            assert message.status == Message.SENT, (message.status, message.error)
            assert reached_waha and refunds(message_id) == 0
            assert answer is None or answer.status == 409, answer
            outcomes["sent"] += 1
    assert sent_texts == [f"m{n}" for n in range(12) if by_id[ids[n]].status == "sent"]
    assert outcomes["cancelled"] >= 1 and by_id[ids[-1]].status == Message.CANCELLED
    assert shop.balance() == 60 - outcomes["sent"] and shop.ledger_total() == shop.balance()
