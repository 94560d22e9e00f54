"""How long a scrape of /metrics takes with a backlog in the tables (SPEC H2; target: at most
200 ms with 10,000 queued messages and 100,000 deliveries).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/scrape_bench .venv/bin/python bench/scrape.py \\
        [--queued 10000] [--accounts 200] [--deliveries 100000] [--pending 10000] [--processes 24]

The PostgreSQL database is dropped and created afresh (its name must contain "bench"), migrated,
and filled in bulk: `--queued` messages queued over `--accounts` accounts, `--deliveries`
deliveries over 50 webhooks of which `--pending` still pending (the rest delivered, as a log
keeps them), and the counts files of `--processes` processes (gunicorn's and qcluster's workers,
some long gone) in PROMETHEUS_MULTIPROC_DIR. Then /metrics is requested through Django's whole
handler, in this process, as a scraper would; the times are wall-clock, per scrape.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
TOKEN = "scrape-bench-token"
COUNT = """
from timelines.metrics import *
INBOUND_REQUESTS.labels("200").inc(); INBOUND_REQUESTS.labels("400").inc()
MESSAGES_FAILED.labels("transport").inc(); OUTBOUND_ATTEMPTS.labels("message", "failed").inc()
WAHA_EVENTS.labels("applied").inc(); SEND_LAG.observe(2.1); MESSAGES_SENT.inc()
"""


def configure(processes):
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        raise SystemExit("Set DATABASE_URL to a PostgreSQL database whose name contains 'bench'.")
    from benchdb import fresh_postgres_database

    fresh_postgres_database(url)
    directory = tempfile.mkdtemp(prefix="scrape-bench-metrics-")
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": directory}
    for _ in range(processes):  # each leaves its own files, as every worker process does
        subprocess.run([sys.executable, "-c", COUNT], cwd=ROOT, env=env, check=True)
    os.environ.update(
        PROMETHEUS_MULTIPROC_DIR=directory,
        METRICS_TOKEN=TOKEN,
        SECRET_KEY="bench-only",
        ALLOWED_HOSTS="testserver",
        LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="timelines.settings",
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def fill(queued, accounts, deliveries, pending):
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from timelines.models import Workspace
    from webhooks.outbound.models import Delivery, OutboundWebhook
    from whatsapp.models import Account, Chat, Message

    now = timezone.now()
    owner = get_user_model().objects.create(username="scrape-bench")
    workspaces = [Workspace.create_for(owner, f"Bench {n}") for n in range(50)]
    phones = [f"+1510555{n:04d}" for n in range(accounts)]
    made = Account.objects.bulk_create(
        Account(workspace=workspaces[n % 50], phone=phone, status=Account.CONNECTED)
        for n, phone in enumerate(phones)
    )
    chats = Chat.objects.bulk_create(
        Chat(account=a, jid=f"1415555{n:04d}@s.whatsapp.net", phone=f"+1415555{n:04d}", name="C")
        for n, a in enumerate(made)
    )
    Message.objects.bulk_create(
        (
            Message(
                chat=chats[n % accounts],
                account=made[n % accounts],
                direction=Message.SENT,
                origin=Message.ORIGIN_API,
                text="queued",
                status=Message.QUEUED,
                queued_at=now - timedelta(seconds=n % 600),
            )
            for n in range(queued)
        ),
        batch_size=5000,
    )
    webhooks = [
        OutboundWebhook.objects.create(workspace=w, url="https://example.com/h", enabled=True)
        for w in workspaces
    ]
    Delivery.objects.bulk_create(
        (
            Delivery(
                webhook=webhooks[n % 50],
                kind=Delivery.MESSAGE,
                chat=chats[n % accounts],
                body="{}",
                state=Delivery.PENDING if n < pending else Delivery.SUCCEEDED,
                created_at=now - timedelta(seconds=n % 3600),
            )
            for n in range(deliveries)
        ),
        batch_size=5000,
    )
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def scrape(times):
    from django.test import Client

    client = Client()
    took = []
    for _ in range(times):
        started = time.perf_counter()
        response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        took.append(time.perf_counter() - started)
        assert response.status_code == 200, response.status_code
    return took, response.content


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queued", type=int, default=10_000)
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--deliveries", type=int, default=100_000)
    parser.add_argument("--pending", type=int, default=10_000)
    parser.add_argument("--processes", type=int, default=24)
    parser.add_argument("--scrapes", type=int, default=30)
    args = parser.parse_args()
    configure(args.processes)
    fill(args.queued, args.accounts, args.deliveries, args.pending)
    scrape(3)  # warm up: connections, imports, the planner's caches
    took, body = scrape(args.scrapes)
    ms = sorted(1000 * t for t in took)
    print(
        f"{args.queued} queued messages on {args.accounts} accounts, {args.deliveries} "
        f"deliveries ({args.pending} pending), the counts of {args.processes} processes; "
        f"{args.scrapes} scrapes of {len(body)} bytes"
    )
    p95 = ms[int(0.95 * (len(ms) - 1))]
    print(f"scrape: median {statistics.median(ms):.1f} ms, p95 {p95:.1f} ms, max {ms[-1]:.1f} ms")
    print(f"target (at most 200 ms): {'met' if p95 <= 200 else 'NOT met'} (p95)")


if __name__ == "__main__":
    main()
