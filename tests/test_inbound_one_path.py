"""The inbound endpoint's one pipeline (webhooks.inbound.service): every request — phone, JID,
group, chat id, chat name, with or without an Idempotency-Key, valid or not — is resolved by one
read and written in one short transaction, on SQLite and PostgreSQL.

The pipeline commits its own transaction, so these tests run outside the per-test transaction.
"""

import threading

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client

from credits.models import Balance, LedgerEntry, grant
from tests.inbound_helpers import assert_error, post
from webhooks.inbound import resolve, write
from webhooks.inbound.models import Attempt, IdempotencyKey, InboundWebhook
from whatsapp import sender
from whatsapp.models import Account, Chat, Message
from whatsapp.signals import chat_created, message_stored

pytestmark = pytest.mark.django_db(transaction=True)

TEXT = {"action": "send", "text": "Hello"}


@pytest.fixture
def postgres_only(db):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: SQLite's writers take turns, so this cannot happen there")


def accepted(response):
    """The message, ledger entry and attempt an accepted request stored."""
    assert response.status_code == 200, response.content
    message_id = response.json()["data"]["message_id"]
    message = Message.objects.select_related("chat").get(message_id=message_id)
    entry = LedgerEntry.objects.get(message_ref=message_id)
    attempt = Attempt.objects.get(message_id=message_id)
    assert attempt.response == {"status": "success", "data": {"message_id": message_id}}
    for moment in (message.timestamp, message.stored_at, message.queued_at, attempt.created_at):
        assert moment is not None
    return message, entry, attempt


@pytest.mark.parametrize(
    "recipient, kind",
    [
        ({"phone": "+14151231234"}, "phone"),  # the fixture's chat, named John Doe
        ({"jid": "14151231234@c.us"}, "jid"),
        ({"jid": "14151231234@s.whatsapp.net"}, "jid"),
        ({"whatsapp_account_phone": "+15105566777", "phone": "+1 415 123 1234"}, "phone"),
        ({"whatsapp account phone": "+15105566777", "phone": "+14151231234"}, "phone"),
    ],
    ids=["phone", "contact-jid", "whatsapp-net-jid", "named-account", "seed-spelling"],
)
def test_it_stores_a_queued_message_in_an_existing_chat(inbound_webhook, chat, recipient, kind):
    message, entry, attempt = accepted(post(Client(), inbound_webhook, {**TEXT, **recipient}))
    assert message.chat == chat and message.created_chat is False
    assert (message.status, message.direction) == ("queued", "sent")
    assert message.origin == Message.ORIGIN_INBOUND_WEBHOOK
    assert (message.text, message.credits, message.attachment_url) == ("Hello", 1, "")
    assert (message.sender_name, message.sender_phone) == ("Olive Owner", "+15105566777")
    assert (message.recipient_name, message.recipient_phone) == ("John Doe", "+14151231234")
    assert (entry.kind, entry.amount, entry.workspace_id) == (
        "reserve",
        -1,
        chat.account.workspace_id,
    )
    assert (attempt.status, attempt.recipient_kind, attempt.method) == (200, kind, "POST")
    assert (
        Balance.of(inbound_webhook.workspace) == 99 == LedgerEntry.total(inbound_webhook.workspace)
    )


def test_it_sends_to_a_chat_id_whatever_account_is_named(inbound_webhook, chat):
    body = {**TEXT, "chat_id": chat.chat_id, "whatsapp_account_phone": "+19999999999"}
    message, _, attempt = accepted(post(Client(), inbound_webhook, body))
    assert message.chat == chat and attempt.recipient_kind == "chat_id"


@pytest.mark.parametrize("recipient", [{"phone": "+14155550123"}, {"jid": "14155550123@c.us"}])
def test_it_creates_a_new_direct_chat_and_announces_it(inbound_webhook, account, recipient):
    created = []

    def listener(chat, direction, **kwargs):
        created.append((chat.pk, direction, connection.in_atomic_block))

    chat_created.connect(listener)
    try:
        message, _, _ = accepted(post(Client(), inbound_webhook, {**TEXT, **recipient}))
    finally:
        chat_created.disconnect(listener)
    chat = message.chat
    assert message.created_chat is True and chat.account == account
    assert (chat.jid, chat.name, chat.phone, chat.is_group) == (
        "14155550123@s.whatsapp.net",
        "+14155550123",
        "+14155550123",
        False,
    )
    assert created == [(chat.pk, "sent", True)]


def test_it_sends_to_a_group_and_to_a_chat_name(inbound_webhook, chat, group_chat):
    client = Client()
    message, _, _ = accepted(post(client, inbound_webhook, {**TEXT, "jid": group_chat.jid}))
    assert message.chat == group_chat and message.recipient_phone == message.sender_phone == ""
    message, _, attempt = accepted(post(client, inbound_webhook, {**TEXT, "chat_name": "John Doe"}))
    assert message.chat == chat and attempt.recipient_kind == "chat_name"


def test_it_charges_two_credits_for_a_file_with_text(inbound_webhook, chat):
    body = {
        **TEXT,
        "phone": "+14151231234",
        "file_url": "https://files.example.com/report.pdf",
        "file_name": "report.pdf",
    }
    message, entry, _ = accepted(post(Client(), inbound_webhook, body))
    assert (message.credits, entry.amount, message.attachment_name) == (2, -2, "report.pdf")
    workspace = inbound_webhook.workspace
    assert Balance.of(workspace) == 98 == LedgerEntry.total(workspace)


def test_it_names_the_sender_by_phone_when_nobody_connected_the_account(inbound_webhook, workspace):
    account = Account.objects.create(workspace=workspace, phone="+15105550000")
    account.mark_connected()
    message, _, _ = accepted(post(Client(), inbound_webhook, {**TEXT, "phone": "+14151231234"}))
    assert message.sender_name == "+15105550000"


def test_it_sends_from_the_most_recently_connected_account(inbound_webhook, account, workspace):
    newer = Account.objects.create(
        workspace=workspace, phone="+15105551111", connected_by=get_user_model().objects.get()
    )
    newer.mark_connected()
    message, _, _ = accepted(post(Client(), inbound_webhook, {**TEXT, "phone": "+14151231234"}))
    assert message.chat.account == newer and message.sender_phone == "+15105551111"


def test_it_announces_the_message_inside_its_transaction(inbound_webhook, chat):
    seen = []

    def receiver(sender, message, **kwargs):
        seen.append((connection.in_atomic_block, Message.objects.filter(pk=message.pk).exists()))

    message_stored.connect(receiver)
    try:
        post(Client(), inbound_webhook, {**TEXT, "chat_id": chat.chat_id})
    finally:
        message_stored.disconnect(receiver)
    assert seen == [(True, True)]


def test_it_wakes_an_idle_account_after_commit(inbound_webhook, chat, monkeypatch):
    started = []
    # Where the endpoint's write calls it (PostgreSQL) and where `wake` does (SQLite).
    for module in (sender, sender.running):
        monkeypatch.setattr(module, "ensure_dispatchers", lambda now=None: started.append(now))
    Account.objects.filter(pk=chat.account_id).update(next_send_at=None)
    post(Client(), inbound_webhook, {**TEXT, "chat_id": chat.chat_id})
    assert Account.objects.get(pk=chat.account_id).next_send_at is not None
    assert len(started) == 1
    post(Client(), inbound_webhook, {**TEXT, "chat_id": chat.chat_id})  # busy: no new dispatcher
    assert len(started) == 1


def test_it_keeps_the_latest_hundred_attempts(inbound_webhook, chat):
    grant(inbound_webhook.workspace, 100)
    client = Client()
    for n in range(130):
        post(client, inbound_webhook, {**TEXT, "chat_id": chat.chat_id, "text": f"m{n}"})
    workspace = inbound_webhook.workspace
    assert 100 <= Attempt.objects.filter(workspace=workspace).count() < 110
    latest = list(Attempt.latest(workspace))
    assert len(latest) == 100 and '"m129"' in latest[0].body


@pytest.mark.parametrize(
    "body",
    [
        {**TEXT, "phone": "+14151231234"},
        {**TEXT, "jid": "120363000000000000@g.us"},
        {**TEXT, "chat_name": "John Doe"},
        {**TEXT, "chat_name": "Nobody"},  # refused after the read
        {**TEXT, "phone": "+14151231234", "text": ""},  # refused before it
    ],
    ids=["phone", "group", "chat-name", "unknown-name", "invalid"],
)
def test_it_resolves_every_request_with_one_read(inbound_webhook, chat, group_chat, body):
    client = Client()
    post(client, inbound_webhook, body)  # connects; the statements are prepared
    reads = []
    real = resolve.fetch_one

    def counting(sql, params):
        reads.append(sql)
        return real(sql, params)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(resolve, "fetch_one", counting)
        post(client, inbound_webhook, body)
    assert len(reads) == 1


def test_an_accepted_request_takes_four_round_trips_on_postgresql(
    inbound_webhook, chat, postgres_only, tmp_path, monkeypatch
):
    """The read, psycopg's BEGIN, the write, and the one round trip that takes the credits,
    commits and wakes the account: counted in libpq's own trace of what went to the server."""
    from psycopg.pq import Trace

    # Every tenth attempt id also prunes the log after the commit; which ids this test gets
    # depends on the tests before it, so the prune is kept out of the count.
    monkeypatch.setattr(write, "PRUNE_EVERY", 2**62)
    client = Client()
    body = {**TEXT, "chat_id": chat.chat_id}
    post(client, inbound_webhook, body)  # connects; the statements are prepared
    pgconn = connection.connection.pgconn
    with open(tmp_path / "trace", "w+b") as trace:
        pgconn.trace(trace.fileno())
        pgconn.set_trace_flags(Trace.SUPPRESS_TIMESTAMPS)
        try:
            assert post(client, inbound_webhook, body).status_code == 200
        finally:
            pgconn.untrace()
        trace.seek(0)
        sent = [line.split("\t") for line in trace.read().decode().splitlines()]
    # A round trip ends with a simple Query or with the Sync of an extended-protocol exchange.
    trips = [fields[2] for fields in sent if fields[0] == "F" and fields[2] in ("Query", "Sync")]
    assert len(trips) == 4, sent


@pytest.mark.postgres
def test_it_works_without_prepared_statements(inbound_webhook, chat, postgres_only):
    client = Client()
    post(client, inbound_webhook, {**TEXT, "chat_id": chat.chat_id})  # connects
    connection.connection.prepare_threshold = None
    try:
        for _ in range(3):
            response = post(client, inbound_webhook, {**TEXT, "chat_id": chat.chat_id})
            assert response.status_code == 200
    finally:
        connection.connection.prepare_threshold = 5


# -- Refusals, races and rollbacks -------------------------------------------------------------


def test_a_short_balance_gets_a_402_and_nothing_stored(workspace, chat):
    webhook = InboundWebhook.for_workspace(workspace)
    assert_error(post(Client(), webhook, {**TEXT, "chat_id": chat.chat_id}), 402, "quota")
    assert not Message.objects.exists() and not LedgerEntry.objects.exists()
    assert Attempt.objects.get().status == 402


@pytest.mark.parametrize(
    "refused",
    [
        ({**TEXT, "chat_name": "Nobody"}, 400),
        ({**TEXT, "chat_id": 999999}, 400),
        ({**TEXT, "phone": "+14151231234", "whatsapp_account_phone": "+19995550000"}, 400),
        ({**TEXT, "phone": "+14151231234"}, 402),
    ],
    ids=["unknown-name", "unknown-chat", "unknown-account", "no-credits"],
)
def test_a_request_refused_after_the_read_leaves_the_connection_ready(workspace, chat, refused):
    """What spoiled a worker's connection once: a refusal or rollback, then everyday requests."""
    webhook = InboundWebhook.for_workspace(workspace)
    client = Client()
    body, status = refused
    if status != 402:
        grant(workspace, 3)
    for _ in range(3):
        assert post(client, webhook, body).status_code == status
        if status == 402:
            grant(workspace, 1)
        assert post(client, webhook, {**TEXT, "chat_id": chat.chat_id}).status_code == 200
    assert Message.objects.count() == 3


@pytest.mark.postgres
def test_credits_spent_meanwhile_roll_back_and_get_a_402(
    workspace, chat, monkeypatch, postgres_only
):
    """Another request spends the last credit between the read and the UPDATE."""
    grant(workspace, 1)
    webhook = InboundWebhook.for_workspace(workspace)
    real = write.announce

    def spend_elsewhere(message):
        real(message)
        thread = threading.Thread(target=spend_the_last_credit, args=[workspace.pk])
        thread.start()
        thread.join()

    monkeypatch.setattr(write, "announce", spend_elsewhere)
    client = Client()
    assert_error(post(client, webhook, {**TEXT, "chat_id": chat.chat_id}), 402, "quota")
    assert Balance.of(workspace) == 0
    assert not Message.objects.exists()  # rolled back
    assert LedgerEntry.objects.filter(kind=LedgerEntry.RESERVE).count() == 0
    assert list(Attempt.objects.values_list("status", flat=True)) == [402]
    monkeypatch.setattr(write, "announce", real)
    grant(workspace, 1)  # and the connection behaves as a fresh one
    assert post(client, webhook, {**TEXT, "chat_id": chat.chat_id}).status_code == 200


def spend_the_last_credit(workspace_id):
    try:
        Balance.objects.filter(workspace_id=workspace_id).update(balance=0)
    finally:
        connection.close()


def test_a_chat_created_meanwhile_is_used(inbound_webhook, account, monkeypatch):
    real = resolve.read

    def create_elsewhere(*args, **kwargs):
        found = real(*args, **kwargs)  # the read saw no chat for this phone
        if not Chat.objects.exists():
            thread = threading.Thread(target=create_the_chat, args=[account.pk])
            thread.start()
            thread.join()
        return found

    monkeypatch.setattr(resolve, "read", create_elsewhere)
    message, _, _ = accepted(post(Client(), inbound_webhook, {**TEXT, "phone": "+14155550123"}))
    chat = Chat.objects.get(jid="14155550123@s.whatsapp.net")
    assert message.chat == chat and chat.name == "Elsewhere" and message.created_chat is False
    workspace = inbound_webhook.workspace
    assert Balance.of(workspace) == 99 == LedgerEntry.total(workspace)
    assert Attempt.objects.count() == 1


def create_the_chat(account_id):
    try:
        Chat.get_or_create_direct(Account.objects.get(pk=account_id), "+14155550123", "Elsewhere")
    finally:
        connection.close()


def test_a_key_taken_meanwhile_gets_the_first_answer(inbound_webhook, chat, monkeypatch):
    body = {**TEXT, "chat_id": chat.chat_id}
    client = Client()
    first = post(client, inbound_webhook, body, **{"Idempotency-Key": "k-1"})
    # The second request's read misses the key, as if the first had not committed yet.
    real = resolve.read
    monkeypatch.setattr(resolve, "read", lambda *a, **k: real(*a, **{**k, "key": ""}))
    calls = []
    real_store = write.store

    def store(*args, **kwargs):
        calls.append(1)
        monkeypatch.setattr(resolve, "read", real)
        return real_store(*args, **kwargs)

    monkeypatch.setattr(write, "store", store)
    again = post(client, inbound_webhook, body, **{"Idempotency-Key": "k-1"})
    assert again.json() == first.json() and Message.objects.count() == 1
    assert calls == [1] and IdempotencyKey.objects.count() == 1
    assert [a.replayed for a in Attempt.objects.order_by("id")] == [False, True]


def test_unknown_and_disabled_urls(inbound_webhook, chat):
    client = Client()
    body = {**TEXT, "chat_id": chat.chat_id}
    assert_error(post(client, inbound_webhook, body, path="/webhooks/inbound/nope/"), 404)
    inbound_webhook.set_enabled(False)
    assert_error(post(client, inbound_webhook, body), 403, "disabled")
    assert Attempt.objects.get().status == 403


def test_a_disconnected_chat_account_gets_a_409(inbound_webhook, chat):
    chat.account.mark_disconnected()
    assert_error(post(Client(), inbound_webhook, {**TEXT, "chat_id": chat.chat_id}), 409)


def test_it_leaves_the_commit_to_a_callers_transaction(inbound_webhook, chat):
    from django.db import transaction

    from timelines.api import Body
    from webhooks.inbound.service import Call, answer

    raw = f'{{"action": "send", "text": "x", "chat_id": {chat.pk}}}'.encode()
    call = Call("POST", Body(raw, len(raw), 64 * 1024), None, "", {}, "")
    with pytest.raises(RuntimeError), transaction.atomic():
        assert answer(inbound_webhook.token, call).status == 200
        assert Message.objects.count() == 1
        raise RuntimeError("the caller rolls back")
    assert not Message.objects.exists() and Balance.of(inbound_webhook.workspace) == 100
