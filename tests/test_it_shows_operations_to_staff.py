"""SPEC H3: one admin page, for staff only, shows the workers and their heartbeats, who holds
which lease, the backlogs with their oldest ages (queued messages per account, the 20 largest;
pending deliveries per target), paused accounts and the latest failures with their reasons —
each under the name of the metric that counts it."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from credits.models import grant
from tests.sender_helpers import other_chat, queue
from timelines import workers
from webhooks.outbound.models import Delivery
from whatsapp import sender
from whatsapp.models import Message

URL = "/admin/operations/"


@pytest.fixture
def staff(client, db):
    user = get_user_model().objects.create_user("ops", "ops@example.com", "pw", is_staff=True)
    client.force_login(user)
    return client


def test_it_is_for_staff_only(client, owner):
    assert client.get(URL)["Location"].startswith("/admin/login/")
    client.force_login(owner)  # an owner, not staff
    assert client.get(URL)["Location"].startswith("/admin/login/")


def test_it_shows_workers_leases_backlogs_and_failures(staff, workspace, account, chat, outbound):
    grant(workspace, 50)
    workers.beat(timezone.now() - timedelta(minutes=5))
    workers.take("waha-sweep", 60)
    queue(other_chat(account, "+14155550000", "Nobody"), 1)  # fails: not on WhatsApp
    sender.drain_now()
    queue(chat, 3)
    Message.objects.filter(status=Message.QUEUED).update(
        queued_at=timezone.now() - timedelta(seconds=125)
    )
    outbound.url = "https://hooks.example.com/catch/secret-path-123/"
    outbound.save()
    Delivery.objects.create(webhook=outbound, kind=Delivery.MESSAGE, chat=chat, body="{}")
    Delivery.objects.create(
        webhook=outbound,
        kind=Delivery.MESSAGE,
        body="{}",
        state=Delivery.FAILED,
        attempts=8,
        last_status=502,
        finished_at=timezone.now(),
    )

    page = staff.get(URL)
    assert page.status_code == 200
    html = page.content.decode()
    assert workers.holder() in html and "alive" in html
    assert "waha-sweep" in html
    assert account.phone in html and ">3<" in html
    assert re.search(r">12[5-9]<", html)  # the oldest queued message's age, in seconds
    assert "hooks.example.com" in html and "secret-path-123" not in html
    assert "is not on WhatsApp" in html  # the failed message's reason
    assert ">502<" in html  # the delivery given up on
    assert "No account is paused." in html
    for metric in (
        "timelines_workers_alive",
        "timelines_lease_held",
        "timelines_messages_queued",
        "timelines_outbound_deliveries_pending",
        "timelines_accounts_paused",
        "timelines_messages_failed_total",
    ):
        assert metric in html


def test_it_says_when_no_worker_ever_beat(staff):
    assert "no qcluster is running" in staff.get(URL).content.decode()


def test_it_lists_the_paused_accounts_with_what_until_when_and_why(staff, account):
    from whatsapp.governor import pauses
    from whatsapp.models import PAUSE_ALL

    until = timezone.now() + timedelta(hours=2)
    pauses.pause(account.pk, PAUSE_ALL, until, "WhatsApp answered 475: the quota is used up.")
    html = staff.get(URL).content.decode()
    assert "No account is paused." not in html
    assert account.phone in html and "All sending" in html
    assert until.strftime("%Y-%m-%d %H:%M UTC") in html and "quota is used up" in html
