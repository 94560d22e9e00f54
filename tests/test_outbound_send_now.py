"""Sending an aggregation window now: the Outbound page's button and `outbound_webhook WORKSPACE
--flush` close the open window early, send its bundles, and open the rest of the aligned window."""

import json
from datetime import UTC, datetime

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.outbound_helpers import seed_example, shape
from webhooks.outbound import aggregation, dispatch
from webhooks.outbound.models import OutboundWebhook
from whatsapp.models import Message
from whatsapp.store import store_message

START = datetime(2026, 3, 2, 9, 10, tzinfo=UTC)


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def at(clock, hour, minute, second=0):
    clock.move_to(datetime(2026, 3, 2, hour, minute, second, tzinfo=UTC))


def say(chat, text):
    return store_message(chat, direction=Message.RECEIVED, origin="contact", text=text)


def texts(body):
    return [m["text"] for m in body["messages"]]


def test_it_sends_the_window_so_far_and_keeps_the_alignment(outbound, receiver, clock, chat):
    outbound.configure(granularity=6)  # the 06:00-12:00 window
    at(clock, 9, 15)
    say(chat, "first")
    at(clock, 9, 30)
    assert aggregation.send_window_now(outbound) == 1
    dispatch.deliver_due()
    [body] = receiver.bodies()
    assert texts(body) == ["first"] and shape(body) == shape(seed_example("seed_bundle"))
    outbound.refresh_from_db()
    assert outbound.window_start == datetime(2026, 3, 2, 9, 30, 0, 1, tzinfo=UTC)
    assert outbound.window_end == datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    at(clock, 10, 0)
    say(chat, "second")
    at(clock, 12, 0, 30)
    aggregation.close_due_windows()  # the scheduled tick, as before
    dispatch.deliver_due()
    assert [texts(b) for b in receiver.bodies()] == [["first"], ["second"]]


def test_an_empty_window_closes_and_sends_nothing(outbound, receiver, clock):
    outbound.configure(granularity=1)
    assert aggregation.send_window_now(outbound) == 0
    assert receiver.requests == []


def test_it_refuses_when_the_webhook_does_not_aggregate(outbound):
    assert aggregation.send_window_now(outbound) is None
    with pytest.raises(CommandError, match="does not aggregate"):
        call_command("outbound_webhook", "Acme", "--flush")


def test_the_command_flushes(outbound, receiver, clock, chat, capsys):
    outbound.configure(granularity=24)
    say(chat, "hello")
    call_command("outbound_webhook", "Acme", "--flush")
    printed = json.loads(capsys.readouterr().out)
    assert printed["bundles"] == 1 and printed["granularity"] == "24"
    dispatch.deliver_due()
    assert [texts(b) for b in receiver.bodies()] == [["hello"]]


def test_the_owner_sends_now_from_the_page(client, owner, outbound, receiver, clock, chat):
    outbound.configure(granularity=1)
    say(chat, "from the page")
    client.force_login(owner)
    page = f"/w/{outbound.workspace_id}/integrations/outbound/"
    assert "Send this window now" in client.get(page).content.decode()
    response = client.post(page + "send-now/", follow=True)
    assert "Window closed: 1 bundle on the way." in response.content.decode()
    dispatch.deliver_due()
    assert [texts(b) for b in receiver.bodies()] == [["from the page"]]


def test_members_cannot_send_now(client, member, outbound, clock):
    outbound.configure(granularity=1)
    client.force_login(member)
    page = f"/w/{outbound.workspace_id}/integrations/outbound/"
    assert "Send this window now" not in client.get(page).content.decode()
    assert client.post(page + "send-now/").status_code == 404
    assert OutboundWebhook.objects.get(pk=outbound.pk).window_start == START
