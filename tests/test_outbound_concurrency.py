"""Several drains at once (several workers, several machines) share the deliveries: each is
posted once, a chat's messages stay in order, and a failing receiver sends one email."""

import threading

import pytest
from django.core import mail
from django.db import connection

from tests.outbound_helpers import Answer
from webhooks.outbound import dispatch
from whatsapp.models import Chat, Message
from whatsapp.store import store_message

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs real concurrent drains"),
    pytest.mark.django_db(transaction=True),
]


def store(account, chats, per_chat):
    for i in range(per_chat):
        for c in range(chats):
            chat, _ = Chat.get_or_create_direct(account, f"+1415555{c:04d}", f"Chat {c}")
            store_message(chat, direction=Message.RECEIVED, origin="contact", text=f"{c}-{i}")


def drain_in_parallel(drains=4):
    barrier = threading.Barrier(drains)

    def run():
        barrier.wait()
        try:
            dispatch.deliver_due(budget=30)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(drains)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_it_posts_each_delivery_once_and_in_chat_order(outbound, receiver, account, monkeypatch):
    monkeypatch.setattr(dispatch, "wake", lambda: None)
    monkeypatch.setattr(dispatch, "BATCH", 5)
    store(account, chats=12, per_chat=5)
    drain_in_parallel()
    texts = [b["message"]["text"] for b in receiver.bodies()]
    assert sorted(texts) == sorted(f"{c}-{i}" for c in range(12) for i in range(5))
    for c in range(12):
        assert [t for t in texts if t.startswith(f"{c}-")] == [f"{c}-{i}" for i in range(5)]


def test_concurrent_failures_disable_it_with_one_email(outbound, receiver, account, monkeypatch):
    monkeypatch.setattr(dispatch, "wake", lambda: None)
    monkeypatch.setattr(dispatch, "BATCH", 3)
    receiver.default = Answer(status=500)
    store(account, chats=30, per_chat=1)
    drain_in_parallel()
    outbound.refresh_from_db()
    assert not outbound.enabled and outbound.consecutive_failures > 10
    assert len(mail.outbox) == 1
