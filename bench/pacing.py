"""Pacing benchmark: N accounts x M messages on the simulator, sent by a real `qcluster`.

    .venv/bin/python bench/pacing.py                             # N = 1, 10, 100, 1000; M = 8
    .venv/bin/python bench/pacing.py --accounts 1000,3000 --latency 300
    .venv/bin/python bench/pacing.py --database postgres://postgres@127.0.0.1:5432/bench_pacing
    .venv/bin/python bench/pacing.py --baseline 6d523a7           # beside an earlier release
    .venv/bin/python bench/pacing.py --accounts 1000 --policies both  # the governor's cost

For each N: a fresh database (a SQLite file in a temporary directory, or the PostgreSQL database
given, dropped and created afresh; its name must contain "bench"), N connected simulator accounts
with one chat each and M messages queued per account, then `manage.py qcluster` is started and
timed until every message is sent. `--latency MS` makes each simulated send take that long (a
real WAHA's sendText takes 100-500 ms). `--baseline REF` runs the same figures, in the same run,
on the code of git revision REF (checked out in a temporary work tree), each N right before ours.
`--policies on` gives every account the governor's whole policy (SPEC G1) in a state that lets
every message go: a daily cap on new contacts that is not reached, quiet hours that do not cover
the run, number checks on with every number already checked; `--policies both` runs each N with
the policies off, then on, and prints the ratio.

Printed per run, one JSON line: the per-account gaps between consecutive sends (min / median /
max), the share inside [1.5, 2.5] s, whether every account kept its order, the aggregate rate
against the ideal N / 2 messages per second two ways (`rate_vs_ideal`: all gaps over the span
from the first send to the last, which understates, since the last of N accounts to finish is the
one whose random gaps added up longest; `steady_vs_ideal`: the sum of each account's own rate,
what the accounts sustain together), and the CPU time each send cost the app (the qcluster's
processes) and the database (the PostgreSQL backends serving the bench's database), read from
/proc between the first send and the last. Then a table of every run, and the targets.
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
sys.path.insert(0, str(ROOT / "bench"))
from benchdata import accounts_with_chats  # noqa: E402
from benchdb import fresh_postgres_database  # noqa: E402
from cpu import cpu_seconds, database_backends, descendants  # noqa: E402

GAP_MAX = timedelta(seconds=2.5)
TARGETS = {"steady_vs_ideal": 0.97, "gaps_inside_band": 0.995, "gap_max": 3.0}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", default="1,10,100,1000", help="comma-separated N values")
    parser.add_argument("--messages", type=int, default=8, help="M, messages per account")
    parser.add_argument("--database", default="", help="a throwaway PostgreSQL URL ('bench')")
    parser.add_argument("--dispatchers", type=int, default=2, help="SENDER_DISPATCHERS")
    parser.add_argument("--latency", type=int, default=0, help="ms each simulated send takes")
    parser.add_argument("--baseline", default="", help="a git revision to measure beside ours")
    parser.add_argument("--policies", choices=["off", "on", "both"], default="off")
    parser.add_argument("--run", type=int, help=argparse.SUPPRESS)  # one N, in a child
    parser.add_argument("--label", default="current", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        return run_one(args)
    print("Shared, noisy 2-core machine: figures vary from run to run.", flush=True)
    codes = [("current", ROOT)]
    with tempfile.TemporaryDirectory() as tmp:
        if args.baseline:
            codes.insert(0, (f"baseline {args.baseline}", checkout(args.baseline, tmp)))
        results = []
        modes = ["off", "on"] if args.policies == "both" else [args.policies]
        for n in [int(x) for x in args.accounts.split(",")]:
            for label, code in codes:
                for mode in modes:
                    named = f"{label} policies {mode}" if args.policies != "off" else label
                    results.append(run_child(args, n, named, code, tmp, mode))
        if args.baseline:
            subprocess.run(["git", "worktree", "remove", "--force", codes[0][1]], cwd=ROOT)
    table(results, args)


def checkout(revision, tmp):
    """The code of `revision`, in a work tree of its own (removed at the end)."""
    path = Path(tmp) / "baseline"
    subprocess.run(
        ["git", "worktree", "add", "--detach", "--quiet", str(path), revision], cwd=ROOT, check=True
    )
    return path


def isolated(tmp):
    """A directory whose sitecustomize drops the editable install's import hooks: without it, a
    package the baseline does not have (a template tag library, say) would still be imported
    from this checkout, into the baseline's processes."""
    path = Path(tmp) / "isolated"
    path.mkdir(exist_ok=True)
    (path / "sitecustomize.py").write_text(
        "import sys\n"
        "ours = lambda hook: getattr(hook, '__module__', '').startswith('__editable__')\n"
        "sys.meta_path[:] = [f for f in sys.meta_path if not ours(f)]\n"
        "sys.path_hooks[:] = [h for h in sys.path_hooks if not ours(h)]\n"
        "sys.path_importer_cache.clear()\n"
    )
    return path


def run_child(args, n, label, code, tmp, policies="off"):
    name = f"{label.split()[0]}-{policies}-{n}"
    database = args.database or f"sqlite:///{tmp}/bench-{name}.sqlite3"
    if args.database:
        fresh_postgres_database(args.database)
    env = {
        **os.environ,
        "DEBUG": "false",  # as deployed: DEBUG also keeps a log of every query
        "SECRET_KEY": "bench-only",
        "SITE_URL": "http://127.0.0.1:8000",
        "DATABASE_URL": database,
        "DJANGO_SETTINGS_MODULE": "timelines.settings",
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
        "SENDER_DISPATCHERS": str(args.dispatchers),
        "PYTHONPATH": str(code) if code == ROOT else f"{code}{os.pathsep}{isolated(tmp)}",
    }
    env.pop("REDIS_URL", None)  # the embedded default's broker: the database
    cmd = [sys.executable, __file__, "--run", str(n), "--messages", str(args.messages)]
    cmd += ["--latency", str(args.latency), "--label", label, "--policies", policies]
    out = subprocess.run(cmd, env=env, cwd=code, check=True, capture_output=True, text=True)
    sys.stderr.write(out.stderr)
    line = out.stdout.strip().splitlines()[-1]
    print(line, flush=True)
    return json.loads(line)


def run_one(args):
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    queued = setup(args.run, args.messages, args.latency)
    if args.policies == "on":
        govern_every_account()
    cluster = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"], start_new_session=True, env=os.environ
    )
    started = time.monotonic()
    try:
        cpu = wait_until_sent(queued, cluster.pid, timeout=90 + 4 * args.messages)
    finally:
        cluster.send_signal(signal.SIGTERM)
        try:
            cluster.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(cluster.pid, signal.SIGKILL)
    report(args, time.monotonic() - started, cpu)


def setup(n, m, latency):
    """N accounts with one chat each, M queued messages per account and their credits reserved,
    every account woken: the state the inbound endpoint leaves behind, made in bulk (the setup is
    not what is measured)."""
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.utils import timezone

    from credits.models import grant, reserve
    from timelines.models import Workspace
    from whatsapp.models import Account, Message
    from whatsapp.store import new_message

    owner = get_user_model().objects.create_user("bench", "bench@example.com", "pw-bench-1")
    workspace = Workspace.create_for(owner, "Bench")
    grant(workspace, n * m)
    settings = {"latency_ms": latency} if latency else {}
    now = timezone.now()
    with transaction.atomic():
        chats = accounts_with_chats(workspace, owner, n, now, settings)
        Message.objects.bulk_create(
            new_message(
                chat,
                direction=Message.SENT,
                origin="api",
                text=f"bench {r}",
                status=Message.QUEUED,
                queued_at=now,
                credits=1,
            )
            for r in range(m)
            for chat in chats
        )
        reserve(workspace, n * m, "bench")
        Account.objects.update(next_send_at=now)
    return n * m


def govern_every_account():
    """Every policy on, none holding anything back during the run (see the docstring)."""
    from datetime import UTC, datetime, timedelta

    from whatsapp.models import Account, Chat

    later = datetime.now(UTC) + timedelta(hours=6)
    Account.objects.update(
        new_contacts_per_day=100_000,
        quiet_from=later.time().replace(microsecond=0),
        quiet_to=(later + timedelta(hours=1)).time().replace(microsecond=0),
        time_zone="UTC",
        check_numbers=True,
    )
    Chat.objects.update(number_exists=True)


def wait_until_sent(queued, cluster, timeout):
    """Wait for every message to be sent; returns the CPU seconds (app, database) spent between
    the first send seen and the last."""
    from whatsapp.models import Message

    sent = Message.objects.filter(status=Message.SENT)
    deadline = time.monotonic() + timeout
    while not sent.exists():
        time.sleep(0.05)
    before = (cpu_seconds(descendants(cluster)), cpu_seconds(database_backends()))
    first = sent.count()
    while sent.count() < queued:
        if time.monotonic() > deadline:
            print("  timed out before every message was sent", file=sys.stderr, flush=True)
            break
        time.sleep(0.5)
    after = (cpu_seconds(descendants(cluster)), cpu_seconds(database_backends()))
    done = sent.count() - first
    return {
        k: round(1000 * (a - b) / max(done, 1), 3)
        for k, a, b in zip(("app_ms", "database_ms"), after, before, strict=True)
    }


def report(args, elapsed, cpu):
    from whatsapp.models import Message

    n, m = args.run, args.messages
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
    from django.db import connection

    result = {
        "code": args.label,
        "database": connection.vendor,
        "accounts": n,
        "messages_per_account": m,
        "latency_ms": args.latency,
        "dispatchers": int(os.environ.get("SENDER_DISPATCHERS", 1)),
        "sent": len(every),
        "failed_or_pending": n * m - len(every),
        "gap_min": round(min(gaps), 3) if gaps else None,
        "gap_median": round(statistics.median(gaps), 3) if gaps else None,
        "gap_max": round(max(gaps), 3) if gaps else None,
        "gaps_inside_band": round(inside, 5),
        "fifo_kept": ordered,
        "rate_per_s": round(rate, 2),
        "rate_vs_ideal": round(rate / (n / 2), 3),
        "steady_rate_per_s": round(steady, 2),
        "steady_vs_ideal": round(steady / (n / 2), 3),
        "cpu_per_send": cpu,
        # When the late gaps ended, in seconds from the first send: clustered = pauses.
        "late_gaps_by_10s": dict(sorted(Counter(int(t // 10) * 10 for t in late).items())),
        "wall_s": round(elapsed, 1),
    }
    print(json.dumps(result), flush=True)


def table(results, args):
    print()
    print(
        "| code | database | accounts x messages | latency | steady / ideal | gaps in "
        "[1.5, 2.5] s | max gap | CPU per send, app + db |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        cpu = r["cpu_per_send"]
        print(
            f"| {r['code']} | {r['database']} | {r['accounts']} x {r['messages_per_account']} "
            f"| {r['latency_ms']} ms | {r['steady_vs_ideal']:.3f} | "
            f"{100 * r['gaps_inside_band']:.2f} % | {r['gap_max']} s | "
            f"{cpu['app_ms']:.2f} + {cpu['database_ms']:.2f} ms |"
        )
    print()
    offs = {r["accounts"]: r for r in results if r["code"] == "current policies off"}
    for r in results:
        off = offs.get(r["accounts"])
        if r["code"] == "current policies on" and off:
            cpu = sum(r["cpu_per_send"].values()) / sum(off["cpu_per_send"].values())
            rate = r["steady_vs_ideal"] / off["steady_vs_ideal"]
            print(
                f"{r['accounts']} accounts, policies on / off: steady rate {rate:.3f}, "
                f"CPU per send {cpu:.2f}"
            )
    print()
    for r in results:
        if not r["code"].startswith("current") or r["accounts"] < 1000:
            continue
        floor = 0.9 if r["accounts"] > 1000 else TARGETS["steady_vs_ideal"]
        met = r["steady_vs_ideal"] >= floor and (
            r["accounts"] > 1000
            or (
                r["gaps_inside_band"] >= TARGETS["gaps_inside_band"]
                and r["gap_max"] <= TARGETS["gap_max"]
            )
        )
        print(
            f"{r['database']}, {r['accounts']} accounts, {r['latency_ms']} ms: target "
            f"{'met' if met else 'NOT met'}"
        )


if __name__ == "__main__":
    main()
