"""SPEC G4: with number checks on, a new contact's number is checked with the transport before the
first message (WAHA's check-exists, kept on the chat); not on WhatsApp → failed with that reason
and refunded, without a send attempt."""

from datetime import timedelta

import pytest
from django.test import TestCase

from credits.models import Balance, grant
from whatsapp import sender
from whatsapp.models import Chat, Message
from whatsapp.outbox import queue_message
from whatsapp.sender.clock import FakeClock
from whatsapp.store import store_message


@pytest.fixture(autouse=True)
def credits(workspace):
    grant(workspace, 20)


def queue(chat, text="hello"):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return queue_message(chat, text=text, origin="api")


def checks(fake_waha):
    return [p for p in fake_waha.paths("GET") if p.startswith("/api/contacts/check-exists")]


@pytest.fixture
def checking(waha_account):
    waha_account.check_numbers = True
    waha_account.save()
    return waha_account


def test_it_fails_and_refunds_a_number_that_is_not_on_whatsapp_without_sending(
    checking, waha_chat, fake_waha
):
    fake_waha.numbers["14151231234"] = False
    message = queue(waha_chat)
    before = Balance.of(checking.workspace)
    sender.drain_now()
    message.refresh_from_db()
    assert message.status == Message.FAILED
    assert message.error == "+14151231234 is not on WhatsApp"
    assert Balance.of(checking.workspace) == before + 1  # refunded
    assert fake_waha.paths("POST") == []  # no send attempt
    assert checks(fake_waha) == ["/api/contacts/check-exists?phone=14151231234&session=default"]
    assert Chat.objects.get(pk=waha_chat.pk).number_exists is False


def test_it_asks_once_and_keeps_the_answer(checking, waha_chat, fake_waha):
    fake_waha.reply("POST", "/api/sendText", 502, {})  # a temporary error: retried later
    message = queue(waha_chat)
    clock = FakeClock()
    sender.drain_now(clock)
    clock.sleep(timedelta(minutes=1).total_seconds())
    sender.drain_now(clock)
    message.refresh_from_db()
    assert message.status == Message.SENT and message.send_attempts == 2
    assert len(checks(fake_waha)) == 1
    assert Chat.objects.get(pk=waha_chat.pk).number_exists is True


def test_it_does_not_check_a_contact_who_wrote_first(checking, waha_chat, fake_waha):
    store_message(waha_chat, direction=Message.RECEIVED, origin="contact", text="hi")
    queue(waha_chat)
    assert sender.drain_now().sent == 1
    assert checks(fake_waha) == []


def test_it_does_not_check_when_checks_are_off(waha_account, waha_chat, fake_waha):
    fake_waha.numbers["14151231234"] = False  # WAHA would say so, but nobody asks
    queue(waha_chat)
    assert sender.drain_now().sent == 1
    assert checks(fake_waha) == []


def test_the_simulator_answers_number_checks_too(account, workspace):
    account.check_numbers = True
    account.save()
    chat, _ = Chat.get_or_create_direct(account, "+14155550000", "Nobody")
    message = queue(chat)
    assert sender.drain_now().failed == 1
    message.refresh_from_db()
    assert message.error == "+14155550000 is not on WhatsApp" and message.send_attempts == 1
