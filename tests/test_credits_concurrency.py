"""C1/I10 under real concurrency: 50 inbound requests, 10 at a time, against a balance of 20.

PostgreSQL only: its row lock on the balance is what is being tested (SQLite serialises every
writer, so the race cannot happen there)."""

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.db import connection

from credits.models import Balance, LedgerEntry, grant
from webhooks.inbound.models import InboundWebhook
from whatsapp.models import Message

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def postgres_only(db):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL=postgres://...): SQLite serialises writers")


def test_it_accepts_exactly_as_many_requests_as_there_are_credits(live_server, workspace, chat):
    grant(workspace, 20)
    url = live_server.url + InboundWebhook.for_workspace(workspace).path
    body = {"action": "send", "chat_id": chat.chat_id, "text": "race"}

    def post(n):
        return requests.post(url, json={**body, "text": f"race {n}"}, timeout=60)

    # 10 at a time: the test server's listen queue holds 10 connections (a burst of 50 overflows it
    # and connections are reset). The production-shape suite sends 40 at once to gunicorn.
    with ThreadPoolExecutor(10) as pool:
        responses = list(pool.map(post, range(50)))
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] * 20 + [402] * 30, codes
    refused = [r.json() for r in responses if r.status_code == 402]
    assert all(r["message"] == "Message sending quota exceeded" for r in refused)
    accepted = {r.json()["data"]["message_id"] for r in responses if r.status_code == 200}
    assert set(Message.objects.values_list("message_id", flat=True)) == accepted
    assert Balance.of(workspace) == 0 == LedgerEntry.total(workspace)
    reserved = LedgerEntry.objects.filter(kind=LedgerEntry.RESERVE)
    assert set(reserved.values_list("message_ref", flat=True)) == accepted
    assert reserved.count() == 20
