"""Pacing benchmark: N accounts x M messages on the simulator, sent by a real `qcluster`.

    .venv/bin/python bench/pacing.py                    # N = 1, 10, 100, 1000; M = 10
    .venv/bin/python bench/pacing.py --accounts 1000 --messages 20
    .venv/bin/python bench/pacing.py --database postgres://postgres@127.0.0.1:5432/bench_pacing

For each N: a fresh database (a SQLite file in a temporary directory, or the PostgreSQL database
given, dropped and re-created), N connected simulator accounts with one chat each, M messages
queued per account, then `manage.py qcluster` is started and timed until every message is sent.
Prints, per N: the per-account gaps between consecutive sends (min / median / max), the share
of gaps inside [1.5, 2.5] s, whether every account kept its order, and the aggregate send rate
against the ideal N / 2 messages per second, two ways: `rate_per_s` is all gaps over the span
from the first send to the last (it understates: the last of N accounts to finish is the one
whose random gaps added up longest, and all N start from one backlog), `steady_rate_per_s` is the
sum of each account's own rate (what the accounts sustain together).
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
from collections import Counter
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GAP_MAX = timedelta(seconds=2.5)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", default="1,10,100,1000", help="comma-separated N values")
    parser.add_argument("--messages", type=int, default=10, help="M, messages per account")
    parser.add_argument("--database", default="", help="a throwaway PostgreSQL URL")
    parser.add_argument("--dispatchers", type=int, default=2, help="SENDER_DISPATCHERS")
    parser.add_argument("--run", type=int, help=argparse.SUPPRESS)  # one N, in a child
    args = parser.parse_args()
    if args.run:
        return run_one(args.run, args.messages)
    print("Shared, noisy 2-core machine: figures vary from run to run.", flush=True)
    for n in [int(x) for x in args.accounts.split(",")]:
        with tempfile.TemporaryDirectory() as tmp:
            env = bench_env(args.database or f"sqlite:///{tmp}/bench.sqlite3")
            env["SENDER_DISPATCHERS"] = str(args.dispatchers)
            cmd = [sys.executable, __file__, "--run", str(n), "--messages", str(args.messages)]
            subprocess.run(cmd, env=env, check=True, cwd=ROOT)


def bench_env(database_url):
    return {
        **os.environ,
        "DEBUG": "true",
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "timelines.settings",
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
    }


def run_one(n, m):
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    fresh_database()
    queued = setup(n, m)
    cluster = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"], cwd=ROOT, start_new_session=True
    )
    started = time.monotonic()
    try:
        wait_until_sent(queued, timeout=60 + 4 * m)
    finally:
        cluster.send_signal(signal.SIGTERM)
        try:
            cluster.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(cluster.pid, signal.SIGKILL)
    report(n, m, time.monotonic() - started)


def fresh_database():
    from django.core.management import call_command
    from django.db import connection

    if connection.vendor == "postgresql":
        call_command("flush", "--noinput", verbosity=0)
    call_command("migrate", verbosity=0)


def setup(n, m):
    """N accounts with one chat each and M queued messages per account (through the same
    queue_message the endpoint uses). Returns how many were queued."""
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from credits.models import grant
    from timelines.models import Workspace
    from whatsapp.models import Account, Chat
    from whatsapp.outbox import queue_message

    owner = get_user_model().objects.create_user("bench", "bench@example.com", "pw-bench-1")
    workspace = Workspace.create_for(owner, "Bench")
    grant(workspace, n * m)
    chats = []
    for i in range(n):
        account = Account.objects.create(
            workspace=workspace, phone=f"+1510555{i:04d}", connected_by=owner
        )
        account.mark_connected()
        chats.append(Chat.get_or_create_direct(account, f"+1415666{i + 1:04d}", f"Contact {i}")[0])
    for round_ in range(m):
        with transaction.atomic():  # one commit per round: the setup is not what is measured
            for chat in chats:
                queue_message(chat, text=f"bench {round_}", origin="api")
    return n * m


def wait_until_sent(queued, timeout):
    from whatsapp.models import Message

    deadline = time.monotonic() + timeout
    while Message.objects.filter(status=Message.SENT).count() < queued:
        if time.monotonic() > deadline:
            print("  timed out before every message was sent", flush=True)
            return
        time.sleep(0.5)


def report(n, m, elapsed):
    from whatsapp.models import Message

    rows = Message.objects.filter(status=Message.SENT).order_by("pk")
    sends = {}
    for account_id, sent_at in rows.values_list("chat__account_id", "sent_at"):
        sends.setdefault(account_id, []).append(sent_at)
    gaps, ordered, steady, late = [], True, 0.0, []
    every = [t for times in sends.values() for t in times]
    for times in sends.values():
        ordered &= times == sorted(times)
        pairs = list(zip(times, times[1:], strict=False))
        gaps += [(b - a).total_seconds() for a, b in pairs]
        late += [(b - min(every)).total_seconds() for a, b in pairs if b - a > GAP_MAX]
        if len(times) > 1:  # this account's own rate, free of the start-up stagger
            steady += (len(times) - 1) / (times[-1] - times[0]).total_seconds()
    span = (max(every) - min(every)).total_seconds() if every else 0
    rate = len(gaps) / span if span else 0
    inside = sum(1.5 <= g <= 2.5 for g in gaps) / len(gaps) if gaps else 1
    result = {
        "accounts": n,
        "dispatchers": int(os.environ.get("SENDER_DISPATCHERS", 1)),
        "messages_per_account": m,
        "sent": len(every),
        "failed_or_pending": n * m - len(every),
        "gap_min": round(min(gaps), 3) if gaps else None,
        "gap_median": round(statistics.median(gaps), 3) if gaps else None,
        "gap_max": round(max(gaps), 3) if gaps else None,
        "gaps_inside_band": round(inside, 5),
        "fifo_kept": ordered,
        "rate_per_s": round(rate, 2),
        "ideal_rate_per_s": n / 2,
        "rate_vs_ideal": round(rate / (n / 2), 3),
        "steady_rate_per_s": round(steady, 2),
        "steady_vs_ideal": round(steady / (n / 2), 3),
        # When the late gaps ended, in seconds from the first send: clustered = pauses.
        "late_gaps_by_10s": dict(sorted(Counter(int(t // 10) * 10 for t in late).items())),
        "wall_s": round(elapsed, 1),
    }
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
