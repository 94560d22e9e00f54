"""P3: the qcluster workers fail and refund sends while 8 clients post to the same workspace —
no 5xx and no deadlock (PostgreSQL's own count for the database, and its log when readable).

The simulator fails every number ending in 0000, at once and for good, so each accepted message
to such a number is refunded by the sender about 2 s after the previous send of its account;
20 accounts make about 10 refunds a second beside the inbound requests."""

import glob
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from django.db import connection, transaction

from credits.models import LedgerEntry
from tests.production.helpers import post, tenant
from whatsapp.models import Message

pytestmark = pytest.mark.production

ACCOUNTS, CLIENTS, SECONDS = 20, 8, 20
FAILING = [f"+1415{n:03d}0000" for n in range(212, 212 + ACCOUNTS)]  # the simulator fails these


def deadlocks(database):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = %s", [database])
        return cursor.fetchone()[0]


class PostgresLog:
    """PostgreSQL's log on this machine, when this process may read it (Debian's default
    place); lines written after `start` that mention the database."""

    def __init__(self, database):
        readable = [Path(p) for p in glob.glob("/var/log/postgresql/*.log")]
        self.files = {p: p.stat().st_size for p in readable if _readable(p)}
        self.database = database

    def new_lines(self, word):
        lines = []
        for path, offset in self.files.items():
            with path.open("rb") as log:
                log.seek(offset)
                text = log.read().decode("utf-8", "replace")
            lines += [line for line in text.splitlines() if word in line]
        return lines


def _readable(path):
    try:
        path.open("rb").close()
        return True
    except OSError:
        return False


def test_it_refunds_failed_sends_beside_inbound_requests_without_deadlocks(server, orm):
    shop = tenant("Refunds", credits=1_000_000, accounts=ACCOUNTS)
    deadlocks_before, pg_log = deadlocks(server.database), PostgresLog(server.database)
    stop, answers = time.monotonic() + SECONDS, []

    def client(n):
        while time.monotonic() < stop:
            account = shop.accounts[n % ACCOUNTS]
            body = {
                "action": "send",
                "phone": FAILING[n % ACCOUNTS],
                "whatsapp_account_phone": account.phone,
                "text": f"to be refunded {n}",
            }
            answers.append(post(server, shop.path, body))
            n += CLIENTS

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    time.sleep(2)  # the statistics collector's delay; the last refunds land meanwhile

    statuses = Counter(a.status for a in answers)
    refunds = LedgerEntry.objects.filter(workspace=shop.workspace, kind=LedgerEntry.REFUND)
    failed = Message.objects.filter(chat__account__workspace=shop.workspace, status="failed")
    new_deadlocks = deadlocks(server.database) - deadlocks_before
    logged = [line for line in pg_log.new_lines("deadlock") if server.database in line]
    problems = []
    if set(statuses) != {200}:
        problems.append(f"answers {dict(statuses)}, e.g. {_first_errors(answers)}")
    if new_deadlocks or logged:
        problems.append(f"{new_deadlocks} deadlocks; PostgreSQL's log: {logged[:6]}")
    assert not problems, "\n".join(problems)
    assert refunds.count() >= 2 * ACCOUNTS, "too few refunds happened to prove anything"
    # Every failed message refunded once; the balance still the ledger's sum (one snapshot:
    # the sender goes on failing and refunding meanwhile).
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        assert sorted(refunds.values_list("message_ref", flat=True)) == sorted(
            failed.values_list("message_id", flat=True)
        )
        assert shop.balance() == shop.ledger_total() >= 0


def _first_errors(answers, count=3):
    return [a for a in answers if a.status != 200][:count]
