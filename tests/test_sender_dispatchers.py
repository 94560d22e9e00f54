"""Several dispatchers (several machines) share the accounts through their claims: on
PostgreSQL (FOR UPDATE SKIP LOCKED), no message is sent twice and pacing holds."""

import threading
import time

import pytest
from django.db import connection, connections
from django.test import override_settings

from credits.models import grant
from tests.sender_helpers import gaps, other_account, other_chat, queue, sent_times
from tests.sender_transports import FlakyTransport
from whatsapp import sender
from whatsapp.models import Message

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def postgres_only(db):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL=postgres://...): SKIP LOCKED across sessions")


@override_settings(WHATSAPP_TRANSPORTS={"simulator": "tests.sender_transports.FlakyTransport"})
def test_it_shares_accounts_between_dispatchers_without_sending_twice(workspace, owner):
    grant(workspace, 100)
    FlakyTransport.calls = []
    chats = [other_chat(other_account(workspace, owner, f"+1510556000{n}")) for n in range(6)]
    batches = [queue(chat, 3) for chat in chats]
    done = threading.Event()

    def run():
        dispatcher = sender.Dispatcher(threads=4)
        try:
            while not done.is_set():
                dispatcher.step()
                dispatcher.wait()
            dispatcher.finish()
        finally:
            connections.close_all()

    workers = [threading.Thread(target=run) for _ in range(2)]
    for worker in workers:
        worker.start()
    deadline = time.monotonic() + 30
    while Message.objects.exclude(status=Message.SENT).exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    done.set()
    for worker in workers:
        worker.join()
    assert Message.objects.filter(status=Message.SENT).count() == 18
    assert sorted(FlakyTransport.calls) == sorted(set(FlakyTransport.calls))  # never twice
    for batch in batches:
        assert all(gap >= 1.5 for gap in gaps(sent_times(batch)))
