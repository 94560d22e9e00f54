"""Media figures (SPEC M1, M4), each beside a baseline measured in the same run:

- memory: a gunicorn worker's RSS growth while it serves a 100 MB file through a
  temporary_download_url, against serving a 1 KB file (target: growth < 20 MB);
- events: N received media messages of 200 KB posted as WAHA events to the events URL
  (gunicorn, 4 workers; a qcluster downloads the files from a fake WAHA), against N text
  messages: the events' p50/p99 answer times (target p99 < 100 ms, the download happens after
  the answer), the time until the last file is stored, and how many times each was fetched.

    .venv/bin/python bench/media.py [--count 1000] [--connections 8] [--skip-memory] [--skip-events]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mediadbbench .venv/bin/python bench/media.py

A fresh SQLite file (or the PostgreSQL database named, dropped and re-created: its name must
contain "bench") and a fresh MEDIA_ROOT per run.
"""

import argparse
import hashlib
import hmac
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
from inbound import free_port  # noqa: E402  (bench/inbound.py)
from outbound import stop_cluster as stop  # noqa: E402  (bench/outbound.py)

MB = 1024 * 1024


def configure_environment():
    work = Path(tempfile.mkdtemp(prefix="media-bench-"))
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = f"sqlite:///{work / 'bench.sqlite3'}"
    elif os.environ["DATABASE_URL"].startswith("postgres"):
        from benchdb import fresh_postgres_database

        fresh_postgres_database(os.environ["DATABASE_URL"])
    os.environ.update(
        SECRET_KEY="bench-only",
        DEBUG="false",
        LOG_LEVEL="WARNING",
        ALLOWED_HOSTS="127.0.0.1",
        MEDIA_ROOT=str(work / "media"),
        DJANGO_SETTINGS_MODULE="timelines.settings",
    )
    return work


def setup_django():
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def start(args, env=None):
    return subprocess.Popen(
        args, cwd=ROOT, env=env or os.environ, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def gunicorn(workers):
    port = free_port()
    binary = str(Path(sys.executable).parent / "gunicorn")
    process = start([binary, "timelines.wsgi", f"--bind=127.0.0.1:{port}", f"--workers={workers}"])
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(f"http://127.0.0.1:{port}/accounts/login/", timeout=10)
            return process, port
        except requests.RequestException:
            if time.monotonic() > deadline:
                stop(process)
                raise SystemExit("gunicorn did not start") from None
            time.sleep(0.1)


def children(pid):
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def rss(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def workspace_with_chat(name):
    from django.contrib.auth import get_user_model

    from timelines.models import Workspace
    from whatsapp.models import Account, Chat

    owner, _ = get_user_model().objects.get_or_create(username=f"bench-{name}")
    workspace = Workspace.create_for(owner, name)
    account = Account.objects.create(workspace=workspace, phone="+15105566777", connected_by=owner)
    account.mark_connected()
    chat, _ = Chat.get_or_create_direct(account, "+14151231234", "Bench")
    return workspace, account, chat


# -- memory ------------------------------------------------------------------------------------


def file_link(chat, size, name):
    from webhooks.endpoints import links
    from whatsapp.media import storage
    from whatsapp.media.models import MediaFile
    from whatsapp.models import Message
    from whatsapp.store import store_message

    message = store_message(
        chat, direction=Message.RECEIVED, origin=Message.ORIGIN_CONTACT,
        attachment_name=name, attachment_mime="application/octet-stream",
    )  # fmt: skip
    with storage.spool() as buffer:
        for _ in range(size // MB):
            buffer.write(os.urandom(MB))
        buffer.write(os.urandom(size % MB))
        stored = storage.save(storage.path_for(chat.account.workspace_id, name), buffer)
    MediaFile.keep(message, stored, size).settle(size=size)
    return links.make(message.pk).split("/files/", 1)[1]


def growth_while_serving(port, worker, token, size):
    before, peak, done = rss(worker), [0], threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss(worker))
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    got = 0
    with requests.get(f"http://127.0.0.1:{port}/files/{token}", stream=True, timeout=120) as r:
        assert r.status_code == 200, r.status_code
        for chunk in r.iter_content(256 * 1024):
            got += len(chunk)
    done.set()
    sampler.join()
    assert got == size, (got, size)
    return max(peak[0], rss(worker)) - before


def bench_memory():
    _, _, chat = workspace_with_chat("Memory")
    small, large = file_link(chat, 1024, "small.bin"), file_link(chat, 100 * MB, "large.bin")
    server, port = gunicorn(1)
    try:
        [worker] = children(server.pid)
        growth_while_serving(port, worker, small, 1024)  # warm up: imports, connections
        baseline = growth_while_serving(port, worker, small, 1024)
        served = growth_while_serving(port, worker, large, 100 * MB)
    finally:
        stop(server)
    print(f"memory: a gunicorn worker serving a 1 KB file grew {baseline / MB:.1f} MB;")
    print(f"        serving a 100 MB file it grew {served / MB:.1f} MB (target < 20 MB)")


# -- events ------------------------------------------------------------------------------------


def waha_account(fake):
    from whatsapp.models import WahaConnection

    workspace, account, _ = workspace_with_chat("Events")
    account.delete()
    connection = WahaConnection.objects.create(
        workspace=workspace, base_url=fake.url, api_key=fake.api_key, session="default",
        server={"version": fake.version, "engine": fake.engine, "tier": fake.tier},
    )  # fmt: skip
    fake.sessions["default"] = {}
    connection.link("+15105566777")
    return connection


def post_all(port, connection, events, connections=8):
    url = f"http://127.0.0.1:{port}/whatsapp/waha/{connection.secret}/"
    key = connection.hmac_key.encode()

    def one(event):
        body = json.dumps(event).encode()
        signature = hmac.new(key, body, hashlib.sha512).hexdigest()
        headers = {"Content-Type": "application/json", "X-Webhook-Hmac": signature}
        started = time.perf_counter()
        answer = requests.post(url, data=body, headers=headers, timeout=30)
        return answer.status_code, time.perf_counter() - started

    with ThreadPoolExecutor(connections) as pool:
        return list(pool.map(one, events))


def percentiles(results):
    times = sorted(t for _, t in results)
    bad = sum(1 for status, _ in results if status != 200)
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    return statistics.median(times) * 1000, p99 * 1000, bad


def bench_events(count, connections):
    sys.path.insert(0, str(ROOT))
    from tests.fake_waha import CORE_NEW, FakeWaha
    from whatsapp.media.models import MediaFile

    fake = FakeWaha(**CORE_NEW).start()
    connection = waha_account(fake)
    env = dict(os.environ, WAHA_TRUSTED_URLS=fake.url, Q_WORKERS="4")
    server, port = gunicorn(4)
    texts = [fake.event(fake.message(f"1415{n:07d}@c.us", f"text {n}")) for n in range(count)]
    payload = os.urandom(200 * 1024)
    files = [
        fake.event(fake.message_with_file(f"1416{n:07d}@c.us", payload, "image/jpeg", f"{n}.jpg"))
        for n in range(count)
    ]
    cluster = start([sys.executable, "manage.py", "qcluster"], env)
    try:
        time.sleep(5)  # the cluster's start-up is not measured
        text_times = percentiles(post_all(port, connection, texts, connections))
        started = time.monotonic()
        file_times = percentiles(post_all(port, connection, files, connections))
        posted = time.monotonic() - started
        stored = MediaFile.objects.filter(state=MediaFile.STORED, workspace=connection.workspace)
        deadline = time.monotonic() + 600
        while stored.count() < count and time.monotonic() < deadline:
            time.sleep(0.2)
        last = time.monotonic() - started
        done = stored.count()
    finally:
        stop(cluster)
        stop(server)
        fake.stop()
    fetched = [p for _, p, _, _ in fake.calls if p.startswith("/api/files/")]
    print(f"events: {count} text messages: p50 {text_times[0]:.1f} ms, p99 {text_times[1]:.1f} ms")
    print(
        f"        {count} messages with a 200 KB file: p50 {file_times[0]:.1f} ms, p99 "
        f"{file_times[1]:.1f} ms (target < 100 ms), non-200 answers {file_times[2]}; posted in "
        f"{posted:.1f} s, last file stored {last:.1f} s after the first event; {done}/{count} "
        f"stored, {len(fetched)} downloads of {len(set(fetched))} files"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=8, help="clients posting events")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-events", action="store_true")
    args = parser.parse_args()
    configure_environment()
    setup_django()
    print(f"database: {os.environ['DATABASE_URL'].split('://')[0]}")
    if not args.skip_memory:
        bench_memory()
    if not args.skip_events:
        bench_events(args.count, args.connections)


if __name__ == "__main__":
    main()
