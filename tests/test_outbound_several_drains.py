"""A backlog is drained by several drains at once (up to OUTBOUND_DRAINS), a trickle by one:
the first drain calls for help when it finds a full batch waiting."""

import pytest
from django.test import override_settings
from django_q.models import OrmQ

from timelines import workers
from timelines.models import Lease
from webhooks.outbound import dispatch
from whatsapp.models import Chat, Message
from whatsapp.store import store_message


def store(account, count):
    for n in range(count):
        chat, _ = Chat.get_or_create_direct(account, f"+1415555{n:04d}", f"Chat {n}")
        store_message(chat, direction=Message.RECEIVED, origin="contact", text=f"m{n}")


def drains_started():
    """The drain tasks queued, as (function, lease) pairs."""
    return sorted((task.func(), task.args()[0]) for task in OrmQ.objects.all())


def held(name):
    return Lease.objects.filter(name=name, until__isnull=False).exists()


@pytest.fixture
def no_nudges(monkeypatch):
    """Only the drains' own calls for help start drains here, not each message's commit."""
    monkeypatch.setattr(dispatch, "wake", lambda: None)
    OrmQ.objects.all().delete()


@override_settings(OUTBOUND_DRAINS=3)
def test_a_drain_finding_a_full_batch_starts_one_more(outbound, receiver, account, no_nudges):
    store(account, dispatch.BATCH + 1)
    dispatch.deliver_due()
    assert len(receiver.requests) == dispatch.BATCH + 1
    assert drains_started() == [("webhooks.outbound.dispatch.drain", "outbound-drain")]
    # Once per drain: the helper it started calls for the next one when it finds a backlog too.
    store(account, dispatch.BATCH)
    dispatch.deliver_due()
    assert drains_started() == [
        ("webhooks.outbound.dispatch.drain", "outbound-drain"),
        ("webhooks.outbound.dispatch.drain", "outbound-drain-2"),
    ]


def test_a_trickle_is_drained_by_one(outbound, receiver, account, no_nudges):
    store(account, dispatch.BATCH - 1)
    dispatch.deliver_due()
    assert len(receiver.requests) == dispatch.BATCH - 1
    assert drains_started() == []


@override_settings(OUTBOUND_DRAINS=2)
def test_no_more_drains_than_configured(outbound, receiver, account, no_nudges):
    for name in ("outbound-drain", "outbound-drain-2"):
        assert workers.take(name, 60)
    store(account, dispatch.BATCH)
    dispatch.deliver_due()
    assert drains_started() == []
    assert not held("outbound-drain-3")


def test_a_helper_hands_its_own_lease_back(outbound, receiver, account, no_nudges):
    token = workers.take("outbound-drain-2", 60)
    dispatch.drain("outbound-drain-2", token)
    assert not held("outbound-drain-2")
