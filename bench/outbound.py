"""Outbound webhook figures.

0. Webhooks v2 fan-out: 10 endpoints subscribed to message:new and --fanout-messages messages
   (10 deliveries each) delivered by a real django-q2 cluster (4 workers, as deployed), beside a
   plain `requests` loop posting the same bodies; and the queries each event costs when stored,
   for the first and the last messages (they must not grow with the number of messages).
1. Deliveries per second made by real django-q2 workers (`manage.py qcluster`) to a fast local
   receiver, beside a plain `requests` loop posting the same bodies to the same receiver in the
   same run; the ratio should be >= 0.7.
2. Aggregating 100,000 messages in 10,000 chats: time (target <= 10 s) and query count, which
   must follow the number of chats per batch, not the number of messages.

    .venv/bin/python bench/outbound.py [--deliveries 2000] [--messages 100000] [--chats 10000]
        [--fanout-messages 10000] [--only fanout|delivery|aggregation]

Runs on a fresh SQLite file of its own, or on DATABASE_URL if set: a PostgreSQL database (its name
must contain "bench") is dropped and created afresh on every run.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing import Process, Queue
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]


def configure_environment():
    workdir = Path(tempfile.mkdtemp(prefix="outbound-bench-"))
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{workdir / 'bench.sqlite3'}")
    if os.environ["DATABASE_URL"].startswith("postgres"):
        from benchdb import fresh_postgres_database

        fresh_postgres_database(os.environ["DATABASE_URL"])
    os.environ.setdefault("SECRET_KEY", "bench-only")
    os.environ["ALLOW_PRIVATE_URLS"] = "true"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["DJANGO_SETTINGS_MODULE"] = "timelines.settings"
    return workdir


# -- a fast receiver, in its own process so it does not share our GIL ----


class Quick(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like any production receiver
    # Headers and body leave in two writes; without TCP_NODELAY, Nagle holds the second until
    # the client's delayed ACK (40 ms) on a kept-alive connection. Real servers set it too.
    disable_nagle_algorithm = True

    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def serve(port_queue):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Quick)
    server.daemon_threads = True
    server.request_queue_size = 256
    port_queue.put(server.server_address[1])
    server.serve_forever()


def start_receiver():
    ports = Queue()
    process = Process(target=serve, args=(ports,), daemon=True)
    process.start()
    return process, f"http://127.0.0.1:{ports.get()}/hook"


# -- setup ----


def setup_django():
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def make_workspace(url):
    from django.contrib.auth import get_user_model

    from timelines.models import Workspace
    from webhooks.outbound.models import OutboundWebhook
    from whatsapp.models import Account

    owner = get_user_model().objects.create_user(f"bench{time.time_ns()}", "bench@example.com", "x")
    workspace = Workspace.create_for(owner, f"Bench {time.time_ns()}")
    account = Account.objects.create(workspace=workspace, phone="+15105566777", connected_by=owner)
    account.mark_connected()
    webhook = OutboundWebhook.for_workspace(workspace).configure(url=url, enabled=True)
    return account, webhook


# -- 1. workers against a plain loop ----


def plain_loop(url, bodies):
    import requests

    headers = {"Content-Type": "application/json"}
    started = time.perf_counter()
    for body in bodies:
        requests.post(url, data=body.encode(), headers=headers, timeout=10).raise_for_status()
    return len(bodies) / (time.perf_counter() - started)


def start_cluster():
    # As deployed (deploy/example.env): the paced sender's two dispatchers keep two workers busy
    # even when there is nothing to send, the other two run the deliveries' drains.
    env = dict(os.environ, Q_WORKERS="4")
    return subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: stopped as a whole, by its id
    )


def stop_cluster(cluster):
    os.killpg(cluster.pid, signal.SIGTERM)
    try:
        cluster.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(cluster.pid, signal.SIGKILL)
        cluster.wait()


def wait_for_cluster(timeout=60):
    """Until the cluster has run a task (so its start-up is not measured)."""
    from django_q.tasks import async_task, result

    task_id = async_task("math.floor", 1.5)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if result(task_id) == 1:
            return
        time.sleep(0.1)
    raise SystemExit("the django-q2 cluster did not start")


def store_messages(account, count, per_chat=4):
    """`count` received messages, `per_chat` in each chat: as many deliveries, due now."""
    from django.db import transaction

    from whatsapp.models import Chat, Message
    from whatsapp.store import store_message

    for start in range(0, count, 100):
        with transaction.atomic():
            for n in range(start, min(start + 100, count)):
                chat, _ = Chat.get_or_create_direct(account, f"+1415{n // per_chat:07d}")
                store_message(chat, direction=Message.RECEIVED, origin="contact", text=f"m{n}")


def workers_rate(deliveries, count):
    """From the nudge to the last success: django-q2's pick-up included. The end is the last
    delivery's own finished_at; the bench polls rarely and cheaply (is anything still pending?)
    so that it does not take CPU from the workers it measures."""
    from django.db.models import Max
    from django.utils import timezone

    from timelines import workers
    from webhooks.outbound import dispatch
    from webhooks.outbound.models import Delivery

    assert not deliveries.filter(state=Delivery.SUCCEEDED).exists(), "a drain ran too early"
    started = timezone.now()
    workers.release(dispatch.LEASE_NAME, "bench")
    dispatch.wake()
    while deliveries.filter(state=Delivery.PENDING).exists():
        if (timezone.now() - started).total_seconds() > 1200:
            raise SystemExit("the workers did not finish within 20 minutes")
        time.sleep(0.25)
    assert deliveries.filter(state=Delivery.SUCCEEDED).count() == count
    ended = deliveries.aggregate(last=Max("finished_at"))["last"]
    return count / (ended - started).total_seconds()


def hold_drains_back():
    """No drain may start before we say so: the lease taken for an hour, queued tasks (the
    nudge of enabling the webhook) dropped."""
    from django.utils import timezone
    from django_q.models import OrmQ

    from timelines.models import Lease
    from webhooks.outbound import dispatch

    Lease.objects.update_or_create(
        name=dispatch.LEASE_NAME,
        defaults={"until": timezone.now() + timedelta(hours=1), "token": "bench"},
    )
    OrmQ.objects.all().delete()


def bench_delivery(url, count):
    from webhooks.outbound.models import Delivery

    account, webhook = make_workspace(url)
    hold_drains_back()
    store_messages(account, count)
    bodies = list(Delivery.objects.filter(webhook=webhook).values_list("body", flat=True))
    before = plain_loop(url, bodies)
    cluster = start_cluster()
    try:
        wait_for_cluster()
        rate = workers_rate(Delivery.objects.filter(webhook=webhook), count)
    finally:
        stop_cluster(cluster)
    after = plain_loop(url, bodies)
    loop = (before + after) / 2
    return {
        "deliveries": count,
        "workers_per_second": round(rate, 1),
        "plain_requests_loop_per_second": round(loop, 1),
        "plain_loop_before_and_after": [round(before, 1), round(after, 1)],
        "ratio": round(rate / loop, 2),
        "load_average": os.getloadavg()[0],
    }


# -- 0. webhooks v2 fan-out ----

ENDPOINTS = 10


def store_counting_queries(account, start, count, per_chat=4):
    """Store messages start..start+count (each announced to the endpoints); the queries made."""
    from django.db import connection, transaction

    from whatsapp.models import Chat, Message
    from whatsapp.store import store_message

    queries = []
    with connection.execute_wrapper(lambda run, sql, *a: queries.append(sql) or run(sql, *a)):
        with transaction.atomic():
            for n in range(start, start + count):
                chat, _ = Chat.get_or_create_direct(account, f"+1415{n // per_chat:07d}")
                store_message(chat, direction=Message.RECEIVED, origin="contact", text=f"m{n}")
    return len(queries)


def bench_fanout(url, messages):
    from webhooks.endpoints.models import Endpoint
    from webhooks.outbound.models import Delivery, OutboundWebhook

    account, webhook = make_workspace(url)
    OutboundWebhook.objects.filter(pk=webhook.pk).update(enabled=False)  # v2 only
    for _ in range(ENDPOINTS):
        Endpoint.create(account.workspace, url=url, event_type="message:new")
    hold_drains_back()
    sample = 100
    first = store_counting_queries(account, 0, sample)
    for start in range(sample, messages - sample, 100):
        store_counting_queries(account, start, min(100, messages - sample - start))
    last = store_counting_queries(account, messages - sample, sample)
    deliveries = Delivery.objects.filter(endpoint__workspace=account.workspace)
    count = deliveries.count()
    bodies = list(deliveries.values_list("body", flat=True))
    before = plain_loop(url, bodies)
    cluster = start_cluster()
    try:
        wait_for_cluster()
        rate = workers_rate(deliveries, count)
    finally:
        stop_cluster(cluster)
    after = plain_loop(url, bodies)
    loop = (before + after) / 2
    return {
        "endpoints": ENDPOINTS,
        "messages": messages,
        "deliveries": count,
        "workers_per_second": round(rate, 1),
        "plain_requests_loop_per_second": round(loop, 1),
        "plain_loop_before_and_after": [round(before, 1), round(after, 1)],
        "ratio": round(rate / loop, 2),
        "queries_per_message_first_100": first / sample,
        "queries_per_message_last_100": last / sample,
        "load_average": os.getloadavg()[0],
    }


# -- 2. aggregation ----


def fill_window(webhook, account, messages, chats):
    from django.utils import timezone

    from webhooks.outbound.models import OutboundWebhook, PendingMessage
    from whatsapp.models import Chat, Message

    now = timezone.now()
    start = now - timedelta(hours=1)
    Chat.objects.bulk_create(
        Chat(account=account, jid=f"1{n:011d}@s.whatsapp.net", phone=f"+1{n:011d}", name=f"C{n}")
        for n in range(chats)
    )
    chat_ids = list(Chat.objects.filter(account=account).values_list("pk", flat=True))
    step = timedelta(seconds=3000 / messages)
    Message.objects.bulk_create(
        (
            Message(
                chat_id=chat_ids[n % chats],
                account=account,
                direction=Message.RECEIVED,
                origin="contact",
                timestamp=start + n * step,
                sender_name="Someone <b>",
                text=f"message {n} & more",
            )
            for n in range(messages)
        ),
        batch_size=5000,
    )
    rows = Message.objects.filter(chat__account=account).values_list("pk", "chat_id", "timestamp")
    PendingMessage.objects.bulk_create(
        (PendingMessage(webhook=webhook, message_id=m, chat_id=c, timestamp=t) for m, c, t in rows),
        batch_size=5000,
    )
    OutboundWebhook.objects.filter(pk=webhook.pk).update(
        granularity=1, window_start=start, window_end=now - timedelta(seconds=1)
    )


def bench_aggregation(messages, chats):
    from django.db import connection

    from webhooks.outbound import aggregation
    from webhooks.outbound.models import Delivery

    account, webhook = make_workspace("http://127.0.0.1:9/unused")
    fill_window(webhook, account, messages, chats)
    queries = []
    started, cpu = time.perf_counter(), time.process_time()
    with connection.execute_wrapper(lambda run, sql, *a: queries.append(sql) or run(sql, *a)):
        made = aggregation.close_due_windows()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    batches = -(-chats // aggregation.CHATS_PER_BATCH)
    return {
        "messages": messages,
        "chats": chats,
        "seconds": round(elapsed, 2),
        "cpu_seconds_of_this_process": round(cpu, 2),
        "bundles": made,
        "bundled_messages": sum(
            Delivery.objects.filter(webhook=webhook).values_list("message_count", flat=True)
        ),
        "queries": len(queries),
        "chats_per_batch": aggregation.CHATS_PER_BATCH,
        "batches": batches,
        "queries_per_batch": round(len(queries) / batches, 1),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--chats", type=int, default=10_000)
    parser.add_argument("--fanout-messages", type=int, default=10_000)
    parser.add_argument("--only", choices=["fanout", "delivery", "aggregation"])
    args = parser.parse_args()
    configure_environment()
    setup_django()
    receiver, url = start_receiver()
    cases = {
        "fanout": lambda: bench_fanout(url, args.fanout_messages),
        "delivery": lambda: bench_delivery(url, args.deliveries),
        "aggregation": lambda: bench_aggregation(args.messages, args.chats),
    }
    try:
        figures = {"database": os.environ["DATABASE_URL"].split(":")[0]}
        for name, case in cases.items():
            if args.only in (None, name):
                figures[name] = case()
    finally:
        receiver.terminate()
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
