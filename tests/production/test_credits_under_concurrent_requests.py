"""C1/I10 on gunicorn's 4 workers: 40 clients × 3 requests against 30 credits take exactly the
30 credits, never a 5xx, and the balance stays equal to the ledger and never goes negative."""

import threading
import time

import pytest

from credits.models import Balance
from tests.production.helpers import direct_chat, post, tenant
from whatsapp.models import Message

pytestmark = pytest.mark.production

CLIENTS, REQUESTS, CREDITS = 40, 3, 30


def test_it_accepts_exactly_as_many_requests_as_there_are_credits(server, orm):
    shop = tenant("Crowd", credits=CREDITS)
    chat = direct_chat(shop.account)
    body = {"action": "send", "chat_id": str(chat.chat_id), "text": "crowd"}
    start, answers = threading.Barrier(CLIENTS), []

    def client():
        start.wait()
        for _ in range(REQUESTS):
            answers.append(post(server, shop.path, body))

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    lowest = CREDITS
    while any(thread.is_alive() for thread in threads):
        lowest = min(lowest, Balance.of(shop.workspace))
        time.sleep(0.005)
    for thread in threads:
        thread.join()

    statuses = sorted(a.status for a in answers)
    assert statuses == [200] * CREDITS + [402] * (CLIENTS * REQUESTS - CREDITS), statuses
    refused = [a.json() for a in answers if a.status == 402]
    assert all(
        r == {"status": 402, "data": {}, "message": "Message sending quota exceeded"}
        for r in refused
    ), refused[:3]
    accepted = {a.json()["data"]["message_id"] for a in answers if a.status == 200}
    assert set(Message.objects.filter(chat=chat).values_list("message_id", flat=True)) == accepted
    assert lowest >= 0
    assert shop.balance() == shop.ledger_total() == 0
