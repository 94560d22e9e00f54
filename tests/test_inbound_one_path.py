"""The inbound endpoint's express lane (webhooks/inbound/express.py), on SQLite and PostgreSQL.

The lane must store exactly what the general path stores, so each case sends the same request
through both and compares every column; then every case the lane hands over to the general path
(a short or concurrently spent balance, a chat created meanwhile, idempotency, groups, names).

The lane commits its own transaction, so these tests run outside the per-test transaction.
"""

import threading
from contextlib import contextmanager

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client

from credits.models import Balance, LedgerEntry, grant
from tests.inbound_helpers import assert_error, post
from webhooks.inbound import express
from webhooks.inbound.models import Attempt
from whatsapp import sender
from whatsapp.models import Account, Chat, Message
from whatsapp.signals import message_stored

pytestmark = pytest.mark.django_db(transaction=True)

TEXT = {"action": "send", "text": "Hello"}


@pytest.fixture
def postgres_only(db):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: SQLite's writers take turns, so this cannot happen there")


@pytest.fixture
def lanes(monkeypatch):
    """Which lane answered each request: "express" or "general"."""
    answered = []
    accept = express.accept

    def spy(token, call):
        outcome = accept(token, call)
        answered.append("general" if outcome is None else "express")
        return outcome

    monkeypatch.setattr(express, "accept", spy)
    return answered


@pytest.fixture
def general_only():
    """A context in which the express lane stands aside, as it does on SQLite."""

    @contextmanager
    def switch():
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(express, "available", lambda: False)
            yield

    return switch


def columns(row, *skip):
    return {
        f.attname: getattr(row, f.attname)
        for f in row._meta.concrete_fields
        if f.attname not in {"id", *skip}
    }


def stored(response):
    """Everything an accepted request stored, minus what differs by nature (ids, times)."""
    assert response.status_code == 200, response.content
    message_id = response.json()["data"]["message_id"]
    message = Message.objects.get(message_id=message_id)
    entry = LedgerEntry.objects.get(message_ref=message_id)
    attempt = Attempt.objects.get(message_id=message_id)
    for moment in (message.timestamp, message.stored_at, message.queued_at, attempt.created_at):
        assert moment is not None
    assert attempt.response == {"status": "success", "data": {"message_id": message_id}}
    return {
        "message": columns(message, "message_id", "chat_id", "timestamp", "stored_at", "queued_at"),
        "chat": columns(message.chat, "created_at"),
        "entry": columns(entry, "message_ref", "created_at"),
        "attempt": columns(attempt, "message_id", "response", "created_at"),
    }


def both_lanes(inbound_webhook, body, lanes, general_only, forget_chat=False):
    """(general, express): what the same request stored through each lane."""
    client = Client()
    with general_only():
        general = stored(post(client, inbound_webhook, body))
    if forget_chat:  # a new chat again for the express lane
        Chat.objects.filter(pk__in=Message.objects.values("chat")).delete()
    express_rows = stored(post(client, inbound_webhook, body))
    assert lanes[-1] == "express"
    return general, express_rows


@pytest.mark.parametrize(
    "recipient",
    [
        {"phone": "+14151231234"},  # the fixture's chat, named John Doe
        {"jid": "14151231234@c.us"},
        {"whatsapp_account_phone": "+15105566777", "phone": "+1 415 123 1234"},
    ],
    ids=["phone", "contact-jid", "named-account"],
)
def test_it_stores_what_the_general_path_stores_for_an_existing_chat(
    inbound_webhook, chat, recipient, lanes, general_only
):
    general, fast = both_lanes(inbound_webhook, {**TEXT, **recipient}, lanes, general_only)
    assert fast == general
    assert fast["message"]["recipient_name"] == "John Doe"
    assert fast["message"]["sender_name"] == "Olive Owner"


def test_it_stores_what_the_general_path_stores_for_a_chat_id(
    inbound_webhook, chat, lanes, general_only
):
    body = {**TEXT, "chat_id": chat.chat_id}
    general, fast = both_lanes(inbound_webhook, body, lanes, general_only)
    assert fast == general
    assert fast["attempt"]["recipient_kind"] == "chat_id"


@pytest.mark.parametrize("recipient", [{"phone": "+14155550123"}, {"jid": "14155550123@c.us"}])
def test_it_creates_a_new_chat_as_the_general_path_does(
    inbound_webhook, account, recipient, lanes, general_only
):
    general, fast = both_lanes(
        inbound_webhook, {**TEXT, **recipient}, lanes, general_only, forget_chat=True
    )
    assert fast == general
    assert fast["message"]["created_chat"] is True
    assert fast["chat"]["name"] == "+14155550123" and fast["chat"]["phone"] == "+14155550123"


def test_it_charges_two_credits_for_a_file_with_text(inbound_webhook, chat, lanes, general_only):
    body = {
        **TEXT,
        "phone": "+14151231234",
        "file_url": "https://files.example.com/report.pdf",
        "file_name": "report.pdf",
    }
    general, fast = both_lanes(inbound_webhook, body, lanes, general_only)
    assert fast == general
    assert fast["entry"]["amount"] == -2 and fast["message"]["credits"] == 2
    assert (
        Balance.of(inbound_webhook.workspace)
        == 100 - 4
        == LedgerEntry.total(inbound_webhook.workspace)
    )


def test_it_names_the_sender_by_phone_when_nobody_connected_the_account(
    inbound_webhook, workspace, lanes, general_only
):
    account = Account.objects.create(workspace=workspace, phone="+15105550000")
    account.mark_connected()
    general, fast = both_lanes(
        inbound_webhook, {**TEXT, "phone": "+14151231234"}, lanes, general_only, forget_chat=True
    )
    assert fast == general
    assert fast["message"]["sender_name"] == "+15105550000"


def test_it_sends_from_the_most_recently_connected_account(
    inbound_webhook, account, workspace, lanes
):
    newer = Account.objects.create(
        workspace=workspace, phone="+15105551111", connected_by=get_user_model().objects.get()
    )
    newer.mark_connected()
    response = post(Client(), inbound_webhook, {**TEXT, "phone": "+14151231234"})
    assert lanes == ["express"]
    message = Message.objects.get(message_id=response.json()["data"]["message_id"])
    assert message.chat.account == newer and message.sender_phone == "+15105551111"


def test_it_announces_the_message_inside_its_transaction(inbound_webhook, chat, lanes):
    seen = []

    def receiver(sender, message, **kwargs):
        seen.append((connection.in_atomic_block, Message.objects.filter(pk=message.pk).exists()))

    message_stored.connect(receiver)
    try:
        post(Client(), inbound_webhook, {**TEXT, "chat_id": chat.chat_id})
    finally:
        message_stored.disconnect(receiver)
    assert lanes == ["express"] and seen == [(True, True)]


def test_it_wakes_an_idle_account_after_commit(inbound_webhook, chat, lanes, monkeypatch):
    started = []
    monkeypatch.setattr(sender, "ensure_dispatchers", lambda now=None: started.append(now))
    Account.objects.filter(pk=chat.account_id).update(next_send_at=None)
    post(Client(), inbound_webhook, {**TEXT, "chat_id": chat.chat_id})
    assert lanes == ["express"]
    assert Account.objects.get(pk=chat.account_id).next_send_at is not None
    assert len(started) == 1
    post(Client(), inbound_webhook, {**TEXT, "chat_id": chat.chat_id})  # busy: no new dispatcher
    assert len(started) == 1


def test_it_keeps_the_latest_hundred_attempts(inbound_webhook, chat, lanes):
    grant(inbound_webhook.workspace, 100)
    client = Client()
    for n in range(130):
        post(client, inbound_webhook, {**TEXT, "chat_id": chat.chat_id, "text": f"m{n}"})
    assert set(lanes) == {"express"}
    workspace = inbound_webhook.workspace
    assert 100 <= Attempt.objects.filter(workspace=workspace).count() < 110
    latest = list(Attempt.latest(workspace))
    assert len(latest) == 100 and '"m129"' in latest[0].body


@pytest.mark.postgres
def test_it_works_without_prepared_statements(inbound_webhook, chat, lanes, postgres_only):
    client = Client()
    post(client, inbound_webhook, {**TEXT, "chat_id": chat.chat_id})  # connects
    connection.connection.prepare_threshold = None
    try:
        for _ in range(3):
            response = post(client, inbound_webhook, {**TEXT, "chat_id": chat.chat_id})
            assert response.status_code == 200
    finally:
        connection.connection.prepare_threshold = 5
    assert set(lanes) == {"express"}


# -- What the lane hands over to the general path -------------------------------------------------


def test_a_short_balance_gets_the_general_paths_402_and_nothing_stored(workspace, chat, lanes):
    from webhooks.inbound.models import InboundWebhook

    webhook = InboundWebhook.for_workspace(workspace)
    assert_error(post(Client(), webhook, {**TEXT, "chat_id": chat.chat_id}), 402, "quota")
    assert lanes == ["general"]
    assert not Message.objects.exists() and not LedgerEntry.objects.exists()
    assert Attempt.objects.get().status == 402


@pytest.mark.postgres
def test_credits_spent_meanwhile_roll_the_lane_back_and_get_a_402(
    workspace, chat, lanes, monkeypatch, postgres_only
):
    """Another request spends the last credit between the lane's read and its UPDATE."""
    from webhooks.inbound.models import InboundWebhook

    grant(workspace, 1)
    webhook = InboundWebhook.for_workspace(workspace)
    announce = express.announce

    def spend_elsewhere(message):
        announce(message)
        # A concurrent request on its own connection, committed before our UPDATE.
        thread = threading.Thread(target=spend_the_last_credit, args=[workspace.pk])
        thread.start()
        thread.join()

    monkeypatch.setattr(express, "announce", spend_elsewhere)
    assert_error(post(Client(), webhook, {**TEXT, "chat_id": chat.chat_id}), 402, "quota")
    assert lanes == ["general"]
    assert Balance.of(workspace) == 0
    assert not Message.objects.exists()  # the lane's message was rolled back
    assert LedgerEntry.objects.filter(kind=LedgerEntry.RESERVE).count() == 0
    assert list(Attempt.objects.values_list("status", flat=True)) == [402]


def spend_the_last_credit(workspace_id):
    try:
        Balance.objects.filter(workspace_id=workspace_id).update(balance=0)
    finally:
        connection.close()


def test_a_chat_created_meanwhile_is_used_by_the_general_path(
    inbound_webhook, account, lanes, monkeypatch
):
    resolve = express._resolve

    def create_elsewhere(*args):
        found = resolve(*args)  # the lane saw no chat for this phone
        thread = threading.Thread(target=create_the_chat, args=[account.pk])
        thread.start()
        thread.join()
        return found

    monkeypatch.setattr(express, "_resolve", create_elsewhere)
    response = post(Client(), inbound_webhook, {**TEXT, "phone": "+14155550123"})
    assert response.status_code == 200 and lanes == ["general"]
    chat = Chat.objects.get(jid="14155550123@s.whatsapp.net")
    message = Message.objects.get()
    assert message.chat == chat and chat.name == "Elsewhere" and message.created_chat is False
    assert (
        Balance.of(inbound_webhook.workspace) == 99 == LedgerEntry.total(inbound_webhook.workspace)
    )


def create_the_chat(account_id):
    try:
        Chat.get_or_create_direct(Account.objects.get(pk=account_id), "+14155550123", "Elsewhere")
    finally:
        connection.close()


@pytest.mark.parametrize(
    "body",
    [
        {**TEXT, "chat_name": "John Doe"},
        {**TEXT, "jid": "120363000000000000@g.us"},
        {**TEXT, "phone": "+14151231234", "text": ""},  # invalid: the general path says why
    ],
    ids=["chat-name", "group-jid", "invalid"],
)
def test_the_general_path_answers_what_the_lane_does_not_serve(
    inbound_webhook, chat, group_chat, body, lanes
):
    response = post(Client(), inbound_webhook, body)
    assert lanes == ["general"]
    assert response.status_code == (400 if body.get("text") == "" else 200)


def test_requests_with_an_idempotency_key_take_the_general_path(inbound_webhook, chat, lanes):
    client = Client()
    body = {**TEXT, "chat_id": chat.chat_id}
    first = post(client, inbound_webhook, body, **{"Idempotency-Key": "k-1"})
    again = post(client, inbound_webhook, body, **{"Idempotency-Key": "k-1"})
    assert lanes == ["general", "general"]
    assert first.json() == again.json() and Message.objects.count() == 1


def test_unknown_and_disabled_urls_get_the_general_paths_answers(inbound_webhook, chat, lanes):
    client = Client()
    body = {**TEXT, "chat_id": chat.chat_id}
    assert_error(post(client, inbound_webhook, body, path="/webhooks/inbound/nope/"), 404)
    inbound_webhook.set_enabled(False)
    assert_error(post(client, inbound_webhook, body), 403, "disabled")
    assert lanes == ["general", "general"]
    assert Attempt.objects.get().status == 403


def test_a_disconnected_chat_account_gets_the_general_paths_409(inbound_webhook, chat, lanes):
    chat.account.mark_disconnected()
    assert_error(post(Client(), inbound_webhook, {**TEXT, "chat_id": chat.chat_id}), 409)
    assert lanes == ["general"]


def test_it_stands_aside_inside_a_callers_transaction(inbound_webhook, chat):
    from django.db import transaction

    from webhooks.inbound.service import Call

    call = Call("POST", b'{"action": "send", "text": "x", "chat_id": 1}', 40, None, "", {}, "")
    with transaction.atomic():
        assert express.accept(inbound_webhook.token, call) is None
