"""A drain facing a long backlog claims each batch at the cost of the batch, not of the backlog:
on PostgreSQL the claim reads the due index in order and stops, even when the table's statistics
(as in any queue that just filled up, like this test's table, never analysed) say almost nothing
is pending; on SQLite it marks the batch it read by id."""

import json

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from webhooks.outbound import dispatch
from webhooks.outbound.models import Delivery
from whatsapp.models import Chat

BACKLOG = 3000


def backlog(outbound, account, per_chat=4):
    chats = Chat.objects.bulk_create(
        Chat(account=account, jid=f"1415{n:07d}@s.whatsapp.net", phone=f"+1415{n:07d}")
        for n in range(BACKLOG // per_chat)
    )
    Delivery.objects.bulk_create(
        Delivery(webhook=outbound, kind=Delivery.MESSAGE, chat=chats[n // per_chat], body="{}")
        for n in range(BACKLOG)
    )


def rows_read(plan):
    """Rows every scan of `plan` (EXPLAIN ANALYZE, JSON) produced, over all its loops."""
    node = plan
    total = 0
    if "Scan" in node["Node Type"]:
        total += node["Actual Rows"] * node["Actual Loops"]
    for child in node.get("Plans", []):
        total += rows_read(child)
    return total


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner")
def test_claiming_from_a_long_backlog_reads_about_one_batch(outbound, account, monkeypatch):
    backlog(outbound, account)
    with CaptureQueriesContext(connection) as queries:
        claimed = dispatch.claim()
    assert len(claimed) == dispatch.BATCH  # a full batch: a backlog, as the drain sees it
    monkeypatch.setattr(dispatch._analysed, "at", None)
    assert dispatch.analyse_a_new_backlog() is True
    assert dispatch.analyse_a_new_backlog() is False  # at most once a minute
    [select] = [q["sql"] for q in queries if "SKIP LOCKED" in q["sql"]]
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + select)
            [[explained]] = cursor.fetchall()
    plan = explained[0]["Plan"]
    # The 16 to claim, the 16 claimed before to step over, the chats' later deliveries waiting
    # behind their first one, and one look at each one's chat: hundreds of rows, not the
    # thousands of the backlog (read once, or once per candidate).
    assert rows_read(plan) < 1000, json.dumps(plan, indent=1)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's planner")
def test_on_sqlite_a_claim_marks_its_batch_by_id(outbound, account):
    backlog(outbound, account)
    with CaptureQueriesContext(connection) as queries:
        dispatch.claim()
    [update] = [q["sql"] for q in queries if q["sql"].startswith("UPDATE")]
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + update)
        plan = " ".join(row[-1] for row in cursor.fetchall())
    # Not "USING INDEX delivery_due (state=?)": a walk through every pending delivery.
    assert "INTEGER PRIMARY KEY" in plan, plan
