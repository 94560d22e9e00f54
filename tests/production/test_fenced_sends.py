"""P8 in the production shape: a send is fenced. Two qcluster processes send for a WAHA account
(the fake WAHA, which records when each send reached it) through messages posted to the inbound
endpoint:

- a file whose server sends headers at once, then 12 small pieces 4.5 s apart, then keeps the
  connection open 16 s: the download ends at its deadline and the message fails, refunded, and is
  never handed to WhatsApp; nobody takes the account over meanwhile; the 12 texts behind it follow
  in order;
- the qcluster process that is sending a message (caught in a slow download) frozen with SIGSTOP
  for 30 s: the other takes the account over in about 10 s, fails that message as interrupted
  and refunds it, and sends the rest in order; the frozen one, woken, never sends it.

Every gap between two sends of the account is at least 1.5 s, as WAHA saw them. The sender must
reach 127.0.0.1 here, so the suite's qcluster processes are swapped for ones that allow private
addresses (tests/production/clusters.py) while this file runs."""

import os
import signal
import socket
import threading
import time
from pathlib import Path

import pytest

from credits.models import LedgerEntry
from tests.fake_waha import CORE_NEW, FakeWaha
from tests.production.clusters import swapped_clusters
from tests.production.conftest import ARTIFACTS
from tests.production.helpers import post, waha_tenant, wait_for
from whatsapp.models import Message

pytestmark = pytest.mark.production

CONTACT = "+14151239876"
FINAL = (Message.SENT, Message.DELIVERED, Message.READ, Message.FAILED)


class SlowFile:
    """A file server on 127.0.0.1: headers at once, then `pieces` small pieces `every` seconds
    apart, then the connection kept open `linger` seconds, with no Content-Length. It remembers
    the client port of each download, to find the process that makes it."""

    def __init__(self, pieces, every, linger):
        self.pieces, self.every, self.linger = pieces, every, linger
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.clients = []
        threading.Thread(target=self.serve, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}/report.pdf"

    def serve(self):
        while True:
            try:
                conn, address = self.listener.accept()
            except OSError:
                return
            self.clients.append(address[1])
            threading.Thread(target=self.drip, args=(conn,), daemon=True).start()

    def drip(self, conn):
        try:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4\n")
            for _ in range(self.pieces):
                time.sleep(self.every)
                conn.sendall(b"% a little more\n")
            time.sleep(self.linger)
        except OSError:
            pass
        finally:
            conn.close()


def process_with_client_port(port):
    """The pid of the process holding the TCP connection whose local port is `port`."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port:
            inode = fields[9]
    assert inode, f"no connection from port {port}"
    for fd in Path("/proc").glob("[0-9]*/fd/*"):
        try:
            if os.readlink(fd) == f"socket:[{inode}]":
                return int(fd.parent.parent.name)
        except OSError:
            continue
    raise AssertionError(f"no process holds the connection from port {port}")


@pytest.fixture(scope="module")
def clusters(server):
    with swapped_clusters(server, "fenced", ALLOW_PRIVATE_URLS="true") as processes:
        yield processes


@pytest.fixture
def waha(orm):
    fake = FakeWaha(**CORE_NEW).start()
    fake.status = "WORKING"
    yield fake
    fake.stop()


@pytest.fixture
def shop(orm, waha):
    return waha_tenant("Fenced", waha, credits=30)


def send(server, shop, text, **fields):
    body = {"action": "send", "text": text, "phone": CONTACT, **fields}
    answer = post(server, shop.path, {**body, "whatsapp_account_phone": shop.account.phone})
    assert answer.status == 200, answer
    return answer.json()["data"]["message_id"]


def messages(ids):
    by_id = {m.message_id: m for m in Message.objects.filter(message_id__in=ids)}
    return [by_id[i] for i in ids]


def settled(ids):
    return lambda: all(m.status in FINAL for m in messages(ids))


def refunds(message_id):
    return LedgerEntry.objects.filter(message_ref=message_id, kind=LedgerEntry.REFUND).count()


def assert_sends_in_order_and_paced(waha, texts, note=""):
    """WAHA got exactly `texts`, in that order, each at least 1.5 s after the one before."""
    times = [at for at, _, _, _ in waha.sent]
    gaps = [round(b - a, 3) for a, b in zip(times, times[1:], strict=False)]
    with (ARTIFACTS / "fenced-sends.txt").open("a") as report:
        report.write(f"{note}; sends {[t for _, _, t, _ in waha.sent]}; gaps {gaps}\n")
    assert [text for _, _, text, _ in waha.sent] == texts
    assert all(gap >= 1.5 for gap in gaps), gaps


def test_a_slow_download_ends_in_time_and_the_file_is_never_sent_late(server, clusters, shop, waha):
    slow = SlowFile(pieces=12, every=4.5, linger=16)  # 70 s in all, past the 60 s deadline
    ids = [send(server, shop, "m0", file_url=slow.url, file_name="report.pdf")]
    ids += [send(server, shop, f"m{n}") for n in range(1, 13)]
    wait_for(settled(ids), 150, "every message to be sent or failed")
    time.sleep(12)  # whatever else might still happen to m0 has had its chance
    first, *rest = messages(ids)
    assert first.status == Message.FAILED and "timed out" in first.error
    assert refunds(first.message_id) == 1
    assert all(m.status == Message.SENT for m in rest), [(m.status, m.error) for m in rest]
    # Never taken over (earlier files' clusters, stopped to make room for these, may have
    # interrupted messages of their own: only this test's count).
    assert not any("Interrupted" in m.error for m in (first, *rest))
    assert_sends_in_order_and_paced(waha, [f"m{n}" for n in range(1, 13)], "slow download")
    assert shop.balance() == 30 - 12 and shop.ledger_total() == shop.balance()


def test_a_frozen_worker_is_taken_over_and_never_sends_after_the_refund(
    server, clusters, shop, waha
):
    slow = SlowFile(pieces=10, every=1, linger=0)
    ids = [send(server, shop, f"m{n}") for n in range(3)]
    ids.append(send(server, shop, "m3", file_url=slow.url, file_name="report.pdf"))
    ids += [send(server, shop, f"m{n}") for n in range(4, 8)]
    wait_for(lambda: slow.clients, 60, "m3's download to begin")
    group = os.getpgid(process_with_client_port(slow.clients[0]))
    os.killpg(group, signal.SIGSTOP)
    frozen_at = time.monotonic()
    try:
        wait_for(settled(ids[3:4]), 60, "the other qcluster to take the account over")
        taken_over = time.monotonic() - frozen_at
        wait_for(settled(ids), 60, "the other qcluster to send the rest")
        time.sleep(max(0.0, 30 - (time.monotonic() - frozen_at)))
    finally:
        os.killpg(group, signal.SIGCONT)
    late = Message.objects.get(message_id=ids[3])
    wait_for(
        lambda: "never handed" in Message.objects.get(pk=late.pk).error,
        60,
        "the woken worker to record what became of m3",
    )
    late.refresh_from_db()
    assert late.status == Message.FAILED and "may or may not have been sent" in late.error
    assert refunds(late.message_id) == 1
    note = f"frozen worker: taken over after {taken_over:.1f} s"
    assert_sends_in_order_and_paced(waha, ["m0", "m1", "m2", "m4", "m5", "m6", "m7"], note)
    assert 8 <= taken_over <= 20, taken_over  # about 10 s: the hold, then the next dispatcher
    assert shop.balance() == 30 - 7 and shop.ledger_total() == shop.balance()
