"""H1 and H2 in the shape that is deployed: through nginx, gunicorn's four workers answer the
health checks and the scrapes, while two qclusters send. The counts /metrics shows, whichever
worker answers, are those the database holds: every process's counts add up (prometheus-client's
multi-process files, PROMETHEUS_MULTIPROC_DIR), none resets or splits across workers."""

import http.client
import threading
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from credits.models import LedgerEntry
from tests.production.conftest import METRICS_TOKEN, SECRET_KEY
from tests.production.helpers import SECRETS, direct_chat, new_probe, post, tenant
from whatsapp.models import Account, Message

pytestmark = pytest.mark.production

ACCOUNTS, PER_ACCOUNT, BAD = 6, 5, 12


def get(server, path, headers=None):
    probe = new_probe("ops")
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request("GET", path, headers={"X-Probe": probe, **(headers or {})})
        response = connection.getresponse()
        return response.status, response.read(), probe
    finally:
        connection.close()


def scrape(server):
    status, body, probe = get(server, "/metrics", {"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert status == 200, body[:300]
    samples = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples, probe


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def wait_until(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def nothing_waits(messages=None):
    """No send can happen meanwhile: nothing being sent, nothing queued on a connected account
    that may send (an earlier file's messages may wait for a disconnected account, or one the
    governor paused, or be held themselves: those count nothing)."""
    messages = Message.objects.all() if messages is None else messages
    sending = messages.filter(status=Message.SENDING)
    queued = messages.filter(
        status=Message.QUEUED,
        chat__account__status=Account.CONNECTED,
        chat__account__paused="",
        hold_reason="",
    )
    return not sending.exists() and not queued.exists()


def test_it_is_live_and_ready_with_its_workers_beating(server, orm):
    assert get(server, "/health/live")[0] == 200
    wait_until(lambda: get(server, "/health/ready")[0] == 200, 30, "/health/ready to answer 200")
    status, body, _ = get(server, "/health/ready")
    assert b'"worker_heartbeat": {"status": "ok"' in body
    assert SECRET_KEY.encode() not in body and b"postgres://" not in body


def test_it_refuses_a_scrape_without_the_token(server, orm):
    assert get(server, "/metrics")[0] == 401
    assert get(server, "/metrics", {"Authorization": "Bearer wrong"})[0] == 401


def test_its_counts_match_the_database_while_traffic_flows(server, orm):
    SECRETS.append(METRICS_TOKEN)  # the log check at the end looks for it too
    shop = tenant("Metrics", credits=1000, accounts=ACCOUNTS)
    wait_until(nothing_waits, 300, "earlier files' messages to leave")
    before, _ = scrape(server)
    bodies = [
        {"action": "send", "chat_id": str(direct_chat(account).chat_id), "text": f"m{n}"}
        for account in shop.accounts
        for n in range(PER_ACCOUNT)
    ]
    bodies.append(
        {
            "action": "send",
            "chat_id": str(direct_chat(shop.account, "+14155550000").chat_id),
            "text": "fails",
        }
    )
    answers, scrapes, done = [], [], threading.Event()

    def client(chunk):
        for body in chunk:
            answers.append(post(server, shop.path, body))
        for _ in range(BAD // 4):
            answers.append(post(server, shop.path, b'{"action": "send",'))

    def scraper():
        while not done.is_set():
            scrapes.append(scrape(server))
            time.sleep(0.05)

    clients = [threading.Thread(target=client, args=(bodies[n::4],)) for n in range(4)]
    watcher = threading.Thread(target=scraper)
    for thread in [*clients, watcher]:
        thread.start()
    for thread in clients:
        thread.join()
    mine = Message.objects.filter(chat__account__workspace=shop.workspace)
    wait_until(lambda: nothing_waits(mine), 120, "every message to be sent")
    done.set()
    watcher.join()
    after, _ = scrape(server)

    def added(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    codes = sorted(a.status for a in answers)
    assert codes == [200] * len(bodies) + [400] * BAD, codes
    ledger = LedgerEntry.objects.filter(workspace=shop.workspace)
    assert added("timelines_inbound_requests_total", code="200") == mine.count() == len(bodies)
    assert added("timelines_inbound_requests_total", code="400") == BAD
    spent = -sum(e.amount for e in ledger.filter(kind=LedgerEntry.RESERVE))
    refunded = sum(e.amount for e in ledger.filter(kind=LedgerEntry.REFUND))
    assert added("timelines_credits_spent_total") == spent == len(bodies)
    assert added("timelines_credits_refunded_total") == refunded == 1
    sent = mine.filter(status=Message.SENT).count()
    assert added("timelines_messages_sent_total") == sent == len(bodies) - 1
    assert added("timelines_send_lag_seconds_count") == sent
    assert added("timelines_messages_failed_total", reason="not_on_whatsapp") == 1
    # Read from the database at scrape time (earlier files may leave messages held or paused).
    queued = Message.objects.filter(status=Message.QUEUED).count()
    assert value(after, "timelines_messages_queued") == queued
    assert not mine.filter(status=Message.QUEUED).exists()

    # While it flowed, every scrape (whichever gunicorn worker took it) counted up, never down.
    workers = {server.worker_of(probe) for _, probe in scrapes}
    assert len(scrapes) >= 5 and len(workers) >= 2, (len(scrapes), workers)
    for name in ("timelines_inbound_requests_total", "timelines_messages_sent_total"):
        series = [
            value(s, name, **({"code": "200"} if "inbound" in name else {})) for s, _ in scrapes
        ]
        assert series == sorted(series), name
    assert any(value(s, "timelines_messages_queued") > 0 for s, _ in scrapes)
