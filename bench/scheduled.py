"""Scheduled sends at scale (SPEC G5): M messages on each of N accounts, all scheduled for the
same moment, released by the paced sender.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/govdbbench .venv/bin/python bench/scheduled.py
    .venv/bin/python bench/scheduled.py --accounts 500 --messages 100 --watch 20

A fresh database (PostgreSQL, dropped and created afresh: its name must contain "bench"; SQLite
in a temporary directory otherwise), N connected simulator accounts with one chat each, and N x M
messages `scheduled` (credits reserved) for one moment T. Two figures:

1. The release, in this process: every due message moved to `queued` and its account woken, as
   the dispatchers do it each round (whatsapp.sender.scheduled.release_due, in batches), timed
   and with its SQL statements counted: statements per released message, and seconds in all.
   The messages are then put back to `scheduled`, untouched otherwise.
2. The sends, by a real `qcluster` started before T and watched for `--watch` seconds after it:
   how soon after T each account's first message leaves, and every account's first gaps (each
   must be at least 1.5 s: no burst when the schedule opens).
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from benchdata import accounts_with_chats  # noqa: E402
from benchdb import fresh_postgres_database  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=500)
    parser.add_argument("--messages", type=int, default=100, help="per account")
    parser.add_argument("--lead", type=float, default=30, help="seconds from setup to T")
    parser.add_argument("--watch", type=float, default=20, help="seconds watched after T")
    parser.add_argument(
        "--order",
        choices=["round", "account"],
        default="round",
        help="messages made round by round (one per account, then the next), or account by "
        "account: the release takes them oldest first, so 'account' is the worst case for "
        "how soon the last account starts",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        database = os.environ.get("DATABASE_URL") or f"sqlite:///{tmp}/scheduled.sqlite3"
        if database.startswith("postgres"):
            fresh_postgres_database(database)
        os.environ.update(
            {
                "DEBUG": "false",
                "SECRET_KEY": "bench-only",
                "SITE_URL": "http://127.0.0.1:8000",
                "DATABASE_URL": database,
                "DJANGO_SETTINGS_MODULE": "timelines.settings",
                "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
            }
        )
        os.environ.pop("REDIS_URL", None)
        run(args)


def run(args):
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    at = setup(args.accounts, args.messages, args.lead, args.order)
    release = measure_release(at, args.accounts * args.messages)
    cluster = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"], start_new_session=True, cwd=ROOT
    )
    try:
        time.sleep(max(0.0, (at.timestamp() - time.time())) + args.watch)
    finally:
        os.killpg(cluster.pid, signal.SIGTERM)
        try:
            cluster.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(cluster.pid, signal.SIGKILL)
    print(json.dumps({**release, **sends(at, args)}), flush=True)


def setup(n, m, lead, order):
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.utils import timezone

    from credits.models import grant, reserve
    from timelines.models import Workspace
    from whatsapp.models import Message
    from whatsapp.store import new_message

    owner = get_user_model().objects.create_user("bench", "bench@example.com", "pw-bench-1")
    workspace = Workspace.create_for(owner, "Bench")
    grant(workspace, n * m)
    now = timezone.now()
    at = now + timedelta(seconds=lead)
    with transaction.atomic():
        chats = accounts_with_chats(workspace, owner, n, now)
        Message.objects.bulk_create(
            (
                new_message(
                    chat,
                    direction=Message.SENT,
                    origin="api",
                    text=f"bench {r}",
                    status=Message.SCHEDULED,
                    send_at=at,
                    credits=1,
                )  # fmt: skip
                for r, chat in made_in(order, m, chats)
            ),
            batch_size=5000,
        )
        reserve(workspace, n * m, "bench")
    return at


def made_in(order, m, chats):
    if order == "round":
        return [(r, chat) for r in range(m) for chat in chats]
    return [(r, chat) for chat in chats for r in range(m)]


def measure_release(at, total):
    """Release every message as the dispatchers would at T, counting statements; then put them
    back as they were."""
    from django.db import connection

    from whatsapp.models import Account, Message
    from whatsapp.sender import scheduled

    statements = []

    def count(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    started = time.monotonic()
    with connection.execute_wrapper(count):
        released = scheduled.release_all_due(at)
    seconds = time.monotonic() - started
    assert released == total, (released, total)
    # Back to scheduled (a bench's shortcut, not the app's way), accounts idle again.
    Message.objects.filter(status=Message.QUEUED).update(status=Message.SCHEDULED, queued_at=None)
    Account.objects.update(next_send_at=None)
    return {
        "released": released,
        "release_seconds": round(seconds, 2),
        "released_per_second": round(released / seconds),
        "statements_per_released_message": round(len(statements) / released, 4),
    }


def sends(at, args):
    from whatsapp.models import Message

    times = {}
    rows = Message.objects.filter(sent_at__isnull=False).order_by("sent_at")
    for account_id, sent_at in rows.values_list("account_id", "sent_at"):
        times.setdefault(account_id, []).append(sent_at)
    firsts = [(t[0] - at).total_seconds() for t in times.values()]
    first_gaps = [(t[1] - t[0]).total_seconds() for t in times.values() if len(t) > 1]
    gaps = [(b - a).total_seconds() for t in times.values() for a, b in zip(t, t[1:], strict=False)]
    return {
        "order": args.order,
        "accounts": args.accounts,
        "messages": args.accounts * args.messages,
        "watched_s": args.watch,
        "sent_while_watched": sum(len(t) for t in times.values()),
        "accounts_started": len(times),
        "sent_before_T": sum(f < 0 for f in firsts),
        "first_send_after_T_s": {
            "min": round(min(firsts), 3),
            "median": round(statistics.median(firsts), 3),
            "max": round(max(firsts), 3),
        },
        "first_gap_min_s": round(min(first_gaps), 3) if first_gaps else None,
        "gap_min_s": round(min(gaps), 3) if gaps else None,
        "gaps_under_1_5_s": sum(g < 1.5 for g in gaps),
    }


if __name__ == "__main__":
    main()
