"""Inbound endpoint figures: accepted requests/s, p50 and p99 latency of the inbound webhook under
concurrent clients, beside a bare Django view, an empty DRF view and a DRF view that makes one
INSERT, served by the same gunicorn in the same run, and the ratios. The target, at 8 connections
on PostgreSQL: the endpoint's CPU per accepted request (app + database) at most 2.5x that of the
"DRF + one INSERT" reference, and p99 < 50 ms. (CPU, not rate: on two cores shared by the app, the
database and the load generator, a rate says as much about the neighbours as about the code.)

    .venv/bin/python bench/inbound.py [--seconds 10] [--rounds 3] [--connections 8] [--workers 8]
                                      [--workspaces 1]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/inbound_bench .venv/bin/python bench/inbound.py

Runs on a fresh SQLite file of its own unless DATABASE_URL is set. A PostgreSQL database is
dropped and created afresh on every run (its name must contain "bench"): rows and dead tuples left
by earlier runs would make the figures drift. Every client request opens a connection, POSTs the
seed's Example 1 and reads the answer (gunicorn's sync workers close each connection).

Besides the rates it prints the CPU time each accepted request cost, split between the app
(gunicorn's workers), the database (PostgreSQL's backends for the bench's database) and the
client, read from /proc: on a machine where all three share the cores, that is what a rate is
made of. The reference and the endpoint take turns (--rounds, splitting --seconds), so that what
the neighbours do weighs on both alike; the ratio is printed for each round and for all of them.
"""

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path[:0] = [str(ROOT), str(BENCH)]
import cpu as processes  # noqa: E402  (bench/cpu.py)

ACCOUNT_PHONE = "+15105566777"
EXAMPLE_1 = {
    "action": "send",
    "whatsapp account phone": ACCOUNT_PHONE,
    "phone": "+14151231234",
    "text": "lorem ipsum",
}


def configure_environment():
    if not os.environ.get("DATABASE_URL"):
        workdir = Path(tempfile.mkdtemp(prefix="inbound-bench-"))
        os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
    elif os.environ["DATABASE_URL"].startswith("postgres"):
        from benchdb import fresh_postgres_database

        fresh_postgres_database(os.environ["DATABASE_URL"])
    os.environ.setdefault("SECRET_KEY", "bench-only")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["ALLOWED_HOSTS"] = "127.0.0.1"
    os.environ["DJANGO_SETTINGS_MODULE"] = "inbound_settings"
    return os.environ["DATABASE_URL"]


def prepare(workspaces):
    """Migrate, and make workspaces with a connected account, credits and an inbound URL each;
    returns their URL paths."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, connections

    call_command("migrate", verbosity=0)
    from inbound_urls import BENCH_TABLE_SQL

    primary_key = (
        "bigserial PRIMARY KEY" if connection.vendor == "postgresql" else "integer PRIMARY KEY"
    )
    with connection.cursor() as cursor:
        cursor.execute(BENCH_TABLE_SQL.format(id=primary_key))
    paths = [bench_workspace(f"Bench {n}") for n in range(1, workspaces + 1)]
    connections.close_all()
    return paths


def bench_workspace(name):
    from django.contrib.auth import get_user_model

    from credits.models import Balance, grant
    from timelines.models import Workspace
    from webhooks.inbound.models import InboundWebhook
    from whatsapp.models import Account

    owner, _ = get_user_model().objects.get_or_create(username="bench-owner")
    workspace = Workspace.objects.filter(name=name).first() or Workspace.create_for(owner, name)
    account, _ = Account.objects.get_or_create(workspace=workspace, phone=ACCOUNT_PHONE)
    account.mark_connected()
    if Balance.of(workspace) < 1_000_000:
        grant(workspace, 10_000_000, "bench")
    webhook = InboundWebhook.for_workspace(workspace)
    webhook.set_enabled(True)
    return webhook.path


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(workers, **env):
    port = free_port()
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "timelines.wsgi:application",
            f"--bind=127.0.0.1:{port}",
            f"--workers={workers}",
            f"--pythonpath={ROOT},{BENCH}",
            "--backlog=2048",
            "--log-level=warning",
        ],
        cwd=ROOT,
        env={**os.environ, **env},
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, port
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("gunicorn did not start")


async def one_request(port, raw):
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(raw)
    answer = await reader.read()
    writer.close()
    status = int(answer[9:12]) if answer[:5] == b"HTTP/" else 0
    return status, time.perf_counter() - started


async def drive(port, paths, body, seconds, connections):
    """Keep `connections` requests in flight for `seconds` (client n posting to paths[n % len]);
    [(status, latency)]."""
    results = []
    end = time.perf_counter() + seconds

    async def client(path):
        raw = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n"
        ).encode() + body
        while time.perf_counter() < end:
            try:
                results.append(await one_request(port, raw))
            except OSError:
                results.append((0, 0.0))

    await asyncio.gather(*(client(paths[n % len(paths)]) for n in range(connections)))
    return results


def measure(port, paths, body, seconds, connections, server):
    asyncio.run(drive(port, paths, body, min(2.0, seconds), connections))  # warm up
    cpu_before = cpu_seconds(server)
    started = time.perf_counter()
    results = asyncio.run(drive(port, paths, body, seconds, connections))
    elapsed = time.perf_counter() - started
    cpu = {k: v - cpu_before.get(k, 0.0) for k, v in cpu_seconds(server).items()}
    return summarise([(results, elapsed, cpu)])


def summarise(runs):
    """Figures of one target over one or more runs of it (results, elapsed, cpu seconds)."""
    results = [result for run in runs for result in run[0]]
    elapsed = sum(run[1] for run in runs)
    cpu = {}
    for run in runs:
        for k, v in run[2].items():
            cpu[k] = cpu.get(k, 0.0) + v
    latencies = sorted(latency for status, latency in results if status == 200)
    accepted = len(latencies)
    return {
        "runs": runs,
        "accepted_per_s": accepted / elapsed,
        "p50_ms": 1000 * statistics.median(latencies) if latencies else None,
        "p99_ms": 1000 * latencies[int(0.99 * (accepted - 1))] if latencies else None,
        "requests": len(results),
        "not_200": len(results) - accepted,
        "cpu_ms": {k: 1000 * v / max(accepted, 1) for k, v in cpu.items()},
    }


# -- CPU time, from /proc (Linux) ---------------------------------------------------------------


def cpu_seconds(server):
    """CPU seconds used so far by the app (gunicorn's workers), the database (the backends
    serving the bench's database) and the client (this process); empty without /proc."""
    if not processes.available():
        return {}
    return {
        "app": processes.cpu_seconds(processes.children(server.pid)),
        "database": processes.cpu_seconds(processes.database_backends()),
        "client": time.process_time(),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=8, help="gunicorn sync workers")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="the reference and the endpoint take turns this many times (--seconds split)",
    )
    parser.add_argument(
        "--workspaces",
        type=int,
        default=1,
        help="spread the endpoint's clients over this many workspaces (each has its own balance)",
    )
    parser.add_argument(
        "--metrics",
        action="store_true",
        help="instead: the endpoint counting its metrics (as deployed) against the same "
        "endpoint counting nothing, taking turns",
    )
    args = parser.parse_args()
    database = configure_environment()
    endpoints = prepare(args.workspaces)
    body = json.dumps(EXAMPLE_1).encode()
    if args.metrics:
        return metrics_cost(args, endpoints, body)
    server, port = start_gunicorn(args.workers)
    try:
        targets = {
            "bare Django view": ["/bench/bare/"],
            "empty DRF view": ["/bench/empty-drf/"],
        }
        figures = {
            name: measure(port, paths, body, args.seconds, args.connections, server)
            for name, paths in targets.items()
        }
        # The reference and the endpoint take turns, round after round: whatever else the
        # shared machine runs meanwhile weighs on both alike, and each round gives a ratio.
        rounds = {"DRF + one INSERT": [], "inbound endpoint": []}
        for _ in range(args.rounds):
            for name, paths in (
                ("DRF + one INSERT", ["/bench/one-insert/"]),
                ("inbound endpoint", endpoints),
            ):
                figure = measure(
                    port, paths, body, args.seconds / args.rounds, args.connections, server
                )
                rounds[name].append(figure)
        for name, figures_of_rounds in rounds.items():
            figures[name] = summarise([run for f in figures_of_rounds for run in f["runs"]])
            figures[name]["rounds"] = figures_of_rounds
    finally:
        server.terminate()
        server.wait(timeout=30)
    report(figures, database, args)


def report(figures, database, args):
    engine = "PostgreSQL" if database.startswith("postgres") else "SQLite"
    print(
        f"{engine}, gunicorn {args.workers} sync workers, {args.connections} connections, "
        f"{args.seconds:g} s per target, {args.workspaces} workspace(s), Example 1 body"
    )
    print(f"{'':18} {'accepted/s':>11} {'p50 ms':>8} {'p99 ms':>8} {'requests':>9} {'non-200':>8}")
    for name, f in figures.items():
        print(
            f"{name:18} {f['accepted_per_s']:11.0f} {f['p50_ms'] or 0:8.1f} "
            f"{f['p99_ms'] or 0:8.1f} {f['requests']:9d} {f['not_200']:8d}"
        )
    print("CPU ms per accepted request:")
    for name, f in figures.items():
        print(f"  {name:18} " + ", ".join(f"{k} {v:.2f}" for k, v in f["cpu_ms"].items()))
    bare, drf, one_insert, inbound = figures.values()

    def ratio(a, b):
        return f"{a['accepted_per_s'] / b['accepted_per_s']:.2f}x"

    print(f"endpoint / empty DRF view: {ratio(inbound, drf)}")
    print(f"endpoint / bare Django view: {ratio(inbound, bare)}")
    print(f"empty DRF / bare Django: {ratio(drf, bare)}")
    print(f"DRF + one INSERT / empty DRF view: {ratio(one_insert, drf)}")
    cost = cpu_ratio(inbound, one_insert)
    if cost is None:
        print("CPU per request: not measured (no /proc)")
        return
    by_round = [
        cpu_ratio(e, r) for e, r in zip(inbound["rounds"], one_insert["rounds"], strict=True)
    ]
    print(
        "endpoint CPU (app + database) / DRF + one INSERT, round by round: "
        + ", ".join(f"{r:.2f}x" for r in by_round)
    )
    print(f"endpoint CPU (app + database) / DRF + one INSERT, all rounds: {cost:.2f}x")
    ok = cost <= 2.5 and (inbound["p99_ms"] or 1e9) < 50
    print(f"target (CPU <= 2.5x DRF + one INSERT, p99 < 50 ms): {'met' if ok else 'NOT met'}")


def metrics_cost(args, endpoints, body):
    """The endpoint's CPU per accepted request with its counters kept in
    PROMETHEUS_MULTIPROC_DIR's files (as deployed) over the same without any counting: two
    gunicorns on the same database, taking turns round after round."""
    directory = tempfile.mkdtemp(prefix="inbound-bench-metrics-")
    servers = {
        "metrics off": start_gunicorn(args.workers, BENCH_METRICS="off"),
        "metrics on": start_gunicorn(args.workers, PROMETHEUS_MULTIPROC_DIR=directory),
    }
    rounds = {name: [] for name in servers}
    try:
        for _ in range(args.rounds):
            for name, (server, port) in servers.items():
                seconds = args.seconds / args.rounds
                figure = measure(port, endpoints, body, seconds, args.connections, server)
                rounds[name].append(figure)
    finally:
        for server, _ in servers.values():
            server.terminate()
            server.wait(timeout=30)
    figures = {
        name: summarise([r for f in runs for r in f["runs"]]) for name, runs in rounds.items()
    }
    print(
        f"gunicorn {args.workers} sync workers each, {args.connections} connections, "
        f"{args.seconds:g} s per server, {args.rounds} rounds, the inbound endpoint"
    )
    for name, f in figures.items():
        cpu = ", ".join(f"{k} {v:.2f}" for k, v in f["cpu_ms"].items())
        print(
            f"  {name:12} {f['accepted_per_s']:6.0f}/s p50 {f['p50_ms'] or 0:.1f} ms, "
            f"p99 {f['p99_ms'] or 0:.1f} ms, CPU ms per accepted request: {cpu}"
        )
    print(f"  the counting itself, per accepted request: {counting_cost(directory):.1f} µs")
    # The app's CPU only: the counting happens there, and the database does the same work
    # either way (its share, sampled from backends that come and go, only adds noise).
    off, on = rounds["metrics off"], rounds["metrics on"]
    by_round = [app_ratio(b, a) for a, b in zip(off, on, strict=True)]
    if None in by_round:
        print("CPU per request: not measured (no /proc)")
        return
    print("app CPU metrics on / off, round by round: " + ", ".join(f"{r:.3f}x" for r in by_round))
    total = app_ratio(figures["metrics on"], figures["metrics off"])
    median = statistics.median(by_round)
    met = abs(total - 1) <= 0.03
    print(
        f"app CPU metrics on / off: all rounds {total:.3f}x, median round {median:.3f}x "
        f"(target: within 3 %: {'met' if met else 'NOT met'})"
    )


def app_ratio(target, reference):
    app = reference["cpu_ms"].get("app")
    return target["cpu_ms"]["app"] / app if app else None


COUNTING = """
import timeit
from timelines.metrics import CREDITS_SPENT, INBOUND_REQUESTS
def count():  # what an accepted inbound request counts
    INBOUND_REQUESTS.labels("200").inc()
    CREDITS_SPENT.inc(1)
count()
print(min(timeit.repeat(count, number=20000, repeat=5)) / 20000 * 1e6)
"""


def counting_cost(directory):
    """Microseconds an accepted request spends counting, into PROMETHEUS_MULTIPROC_DIR's files:
    steadier than the difference of two noisy CPU figures, and what that difference is made of."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": directory}
    out = subprocess.run(
        [sys.executable, "-c", COUNTING], cwd=ROOT, env=env, capture_output=True, check=True
    )
    return float(out.stdout)


def cpu_ratio(target, reference):
    """The CPU (app + database) each accepted request of `target` cost, over `reference`'s."""

    def cost(figures):
        return figures["cpu_ms"].get("app", 0) + figures["cpu_ms"].get("database", 0)

    return cost(target) / cost(reference) if cost(reference) else None


if __name__ == "__main__":
    main()
