"""O8: every attempt logged, the latest for the page, the 100 latest as a download (owner only),
older ones pruned; any logged delivery can be delivered again."""

import json

import pytest
from django.contrib.admin.sites import site
from django.test import RequestFactory

from tests.outbound_helpers import Answer
from webhooks.outbound import dispatch, tasks
from webhooks.outbound.admin import DeliveryAdmin
from webhooks.outbound.models import Attempt, Delivery
from whatsapp.models import Message
from whatsapp.store import store_message


def receive(chat, count=1):
    for i in range(count):
        store_message(chat, direction=Message.RECEIVED, origin="contact", text=f"m{i}")
        dispatch.deliver_due()


def log_url(workspace):
    return f"/w/{workspace.pk}/integrations/outbound/log/"


def test_it_logs_everything_sent_and_received(outbound, receiver, chat):
    receiver.answer(Answer(status=500, headers={"X-Reason": "db"}, body=b"x" * 30_000))
    receive(chat)
    [attempt] = outbound.recent_attempts()
    assert attempt.url == receiver.url and attempt.status == 500
    assert attempt.request_headers["webhook-id"] == Delivery.objects.get().event_id
    assert json.loads(attempt.sent_body)["message"]["text"] == "m0"
    assert attempt.response_headers["x-reason"] == "db"
    assert len(attempt.response_body) == 20 * 1024
    assert attempt.error and attempt.duration_ms >= 0
    assert attempt.delivery.chat == chat and attempt.delivery.message_count == 1


def test_the_page_gets_the_10_latest_attempts_newest_first(outbound, receiver, chat):
    receive(chat, 12)
    latest = list(outbound.recent_attempts())
    assert len(latest) == 10
    assert [json.loads(a.sent_body)["message"]["text"] for a in latest[:2]] == ["m11", "m10"]


def test_it_keeps_the_100_latest_attempts_per_workspace(outbound, receiver, chat):
    receive(chat, 105)
    tasks.prune_logs()
    kept = Attempt.objects.filter(webhook=outbound)
    assert kept.count() == 100
    texts = {json.loads(a.sent_body)["message"]["text"] for a in kept}
    assert "m104" in texts and "m4" not in texts and "m5" in texts


def test_each_kind_of_target_keeps_its_own_log_size(outbound, subscribe, monkeypatch):
    """The every-minute tick trims the v1 webhook's log to 100 while v2 endpoints' attempts (which
    have no webhook) pile up beside it; the v2 prune trims each endpoint's to 1000."""
    from webhooks.endpoints import tasks as endpoint_tasks

    monkeypatch.setattr(dispatch, "wake", lambda: None)
    endpoint = subscribe("message:new")

    def attempts(count, **target):
        delivery = Delivery.objects.create(kind=Delivery.EVENT, body="{}", **target)
        Attempt.objects.bulk_create(
            Attempt(delivery=delivery, number=1, url="http://x", request_body="", **target)
            for _ in range(count)
        )

    attempts(105, webhook=outbound)
    attempts(1005, endpoint=endpoint)
    tasks.tick()
    assert Attempt.objects.filter(webhook=outbound).count() == 100
    assert Attempt.objects.filter(endpoint=endpoint).count() == 1005
    endpoint_tasks.prune()
    assert Attempt.objects.filter(endpoint=endpoint).count() == 1000
    assert Attempt.objects.filter(webhook=outbound).count() == 100


def test_the_owner_downloads_the_log(client, owner, outbound, receiver, chat):
    receive(chat, 3)
    client.force_login(owner)
    response = client.get(log_url(outbound.workspace))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert "attachment" in response["Content-Disposition"]
    assert 'filename="outbound-webhook-log-' in response["Content-Disposition"]
    document = json.loads(response.content)
    assert (document["workspace"], document["log"]) == ("Acme", "outbound webhook")
    entries = document["attempts"]
    assert len(entries) == 3
    entry = entries[0]
    assert set(entry) >= {"at", "request", "response", "duration_ms", "error"}
    assert entry["request"]["url"] == receiver.url
    assert json.loads(entry["request"]["body"])["message"]["text"] == "m2"
    assert entry["response"]["status"] == 200 and entry["response"]["body"] == "ok"


@pytest.mark.parametrize("who", ["member", "outsider"])
def test_nobody_but_the_owner_downloads_the_log(client, request, who, outbound, chat, receiver):
    receive(chat)
    client.force_login(request.getfixturevalue(who))
    assert client.get(log_url(outbound.workspace)).status_code == 404


def test_an_anonymous_visitor_is_asked_to_sign_in_first(client, outbound, chat, receiver):
    receive(chat)
    response = client.get(log_url(outbound.workspace))
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


def test_redeliver_sends_the_same_event_again(outbound, receiver, chat):
    receive(chat)
    original = Delivery.objects.get()
    again = dispatch.redeliver(original)
    assert dispatch.deliver_due() == 1
    first, second = receiver.requests
    assert first.body == second.body
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == original.event_id
    again.refresh_from_db()
    assert again.state == Delivery.SUCCEEDED and again.redelivery_of == original


def test_redeliver_a_delivery_that_was_given_up(outbound, receiver, chat):
    receiver.default = Answer(status=500)
    receive(chat)
    Delivery.objects.update(state=Delivery.FAILED)
    receiver.default = Answer(status=200)
    dispatch.redeliver(Delivery.objects.get())
    dispatch.deliver_due()
    assert Delivery.objects.filter(state=Delivery.SUCCEEDED).count() == 1


def test_the_admin_redelivers(admin_user, outbound, receiver, chat):
    receive(chat)
    request = RequestFactory().post("/")
    request.user = admin_user
    request._messages = _Messages()
    DeliveryAdmin(Delivery, site).redeliver(request, Delivery.objects.all())
    dispatch.deliver_due()
    assert len(receiver.requests) == 2


def test_the_admin_enables_and_disables(admin_client, outbound):
    url = "/admin/outbound/outboundwebhook/"
    admin_client.post(url, {"action": "disable", "_selected_action": [outbound.pk]})
    outbound.refresh_from_db()
    assert not outbound.enabled and "admin" in outbound.disabled_reason
    admin_client.post(url, {"action": "enable", "_selected_action": [outbound.pk]})
    outbound.refresh_from_db()
    assert outbound.enabled


class _Messages(list):
    def add(self, level, message, extra_tags=""):
        self.append(message)


def test_old_finished_deliveries_leave_once_out_of_the_log(outbound, receiver, chat):
    from datetime import timedelta

    from django.utils import timezone

    receiver.answer(Answer(status=500))
    receive(chat, 2)  # the first is pending (retry), the second waits behind it
    Delivery.objects.create(
        webhook=outbound,
        kind=Delivery.MESSAGE,
        body="{}",
        state=Delivery.SUCCEEDED,
        finished_at=timezone.now() - timedelta(days=8),
    )
    in_log = Delivery.objects.create(
        webhook=outbound,
        kind=Delivery.MESSAGE,
        body="{}",
        state=Delivery.FAILED,
        finished_at=timezone.now() - timedelta(days=8),
    )
    Attempt.objects.create(webhook=outbound, delivery=in_log, number=1, url="x", request_body="")
    assert tasks.prune_deliveries() == 1
    assert Delivery.objects.count() == 3
