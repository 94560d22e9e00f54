"""The production-shape harness (SPEC P1–P9): the app as it is deployed, driven over HTTP.

One session starts, on a fresh PostgreSQL database (Django's test database, migrated):

- nginx with the shipped deploy/nginx.conf on 127.0.0.1:<free port>, in front of
- gunicorn with the shipped gunicorn.conf.py (4 sync workers) on 127.0.0.1:<another port>,
  `timelines.settings`, DEBUG off;
- two `manage.py qcluster` processes on the Redis broker (the paced sender, refunds, deliveries).

Requests go through nginx, as in the deployment (`server.port`); `server.direct_port` is
gunicorn's own, for what reaches it without the proxy (WAHA's events in deploy/compose.yaml).

The tests create their data with the ORM in this process (committed at once, the servers see it),
talk to the server over real sockets, and read the outcome back with the ORM. Every process runs
in its own process group and is killed as a whole at the end.

Run it with `pytest -m production` and both services given:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/production \\
    REDIS_URL=redis://127.0.0.1:6379/10 .venv/bin/pytest -m production

The Redis database in REDIS_URL belongs to the suite: it is emptied first. The servers' logs go
to tests/artifacts/production/ (gunicorn's error and access logs, each qcluster's output, nginx's
logs); the exceptions the server logged during a failing test, and the tail of gunicorn's error
log, are shown under it.
"""

import contextlib
import os
import re
import runpy
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.production.clusters import stop
from tests.production.helpers import new_probe
from tests.production.nginx import start_nginx

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts" / "production"
# The servers' MEDIA_ROOT: files the tests put there are the app's stored uploads.
MEDIA_ROOT = ARTIFACTS / "media"
WORKERS = 4
CLUSTERS = 2
SECRET_KEY = "production-shape-suite-secret-key-not-for-real-use"
METRICS_TOKEN = "production-shape-suite-metrics-token"
# Where every process keeps its counts for /metrics (SPEC H2), emptied before they start.
METRICS_DIR = ARTIFACTS / "metrics"

# gunicorn's access log: the worker's pid and the request's probe header (each request the tests
# send carries a unique one), then the shipped format (gunicorn.conf.py) with its request line
# and status.
SHIPPED_ACCESS_FORMAT = runpy.run_path(str(ROOT / "gunicorn.conf.py"))["access_log_format"]
ACCESS_FORMAT = "%(p)s probe=%({x-probe}i)s " + SHIPPED_ACCESS_FORMAT
ACCESS_LINE = re.compile(r"^<(\d+)> probe=(\S+) \S+ \"[^\"]*\" (\d+)")
# The last line of a traceback: "psycopg.errors.UniqueViolation: duplicate key ...".
EXCEPTION_LINE = re.compile(
    r"^((?:(?:[a-z_]\w*\.)+[A-Z]\w*|[A-Z]\w*(?:Error|Exception))(?::.*)?)$", re.M
)


@dataclass
class Server:
    """The running app: where it listens and what it logged."""

    port: int  # nginx's, in front of gunicorn
    direct_port: int  # gunicorn's own
    database: str
    error_log: Path
    access_log: Path
    cluster_logs: list
    nginx_logs: list
    processes: list = field(default_factory=list)
    env: dict = field(default_factory=dict)  # every process's environment
    used: bool = False

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def direct_base(self):
        return f"http://127.0.0.1:{self.direct_port}"

    def logs(self):
        """Every log file the servers write."""
        return [self.error_log, self.access_log, *self.cluster_logs, *self.nginx_logs]

    def workers_by_probe(self):
        """{probe: (worker pid, status)} of every request gunicorn has logged so far."""
        seen = {}
        for line in self.access_log.read_text(errors="replace").splitlines():
            match = ACCESS_LINE.match(line)
            if match and match[2] != "-":
                seen[match[2]] = (int(match[1]), int(match[3]))
        return seen

    def worker_of(self, probe, timeout=10):
        """The pid of the worker that answered the request sent with `probe`. gunicorn writes
        the access line just after the response, so it may trail the answer by a moment."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.workers_by_probe().get(probe)
            if found:
                return found[0]
            if time.monotonic() > deadline:
                raise AssertionError(f"no access log line for probe {probe}")
            time.sleep(0.01)

    def renew_workers(self, timeout=90):
        """New gunicorn workers (SIGHUP: gunicorn starts new ones and stops the old ones), each
        with no database connection yet; returns once all of them answer."""
        old = {pid for pid, _ in self.workers_by_probe().values()}
        os.kill(self.gunicorn.pid, signal.SIGHUP)
        _wait_for_workers(self, time.monotonic() + timeout, old)

    @property
    def gunicorn(self):
        return self.processes[0]

    def error_log_size(self):
        return self.error_log.stat().st_size

    def error_text(self, since=0):
        with self.error_log.open("rb") as log:
            log.seek(since)
            return log.read().decode("utf-8", "replace")

    def error_summary(self, since=0):
        """Each distinct exception line in gunicorn's error log, with how often it occurs."""
        text = self.error_text(since)
        found = EXCEPTION_LINE.findall(text)
        counts = {line: found.count(line) for line in dict.fromkeys(found)}
        return "\n".join(f"{n:6} x {line}" for line, n in counts.items()) or "(none)"

    def error_tail(self, lines=40, since=0):
        text = self.error_text(since)
        return "\n".join(text.splitlines()[-lines:])


def _require_services():
    """Stop the run with one clear line when PostgreSQL or Redis is not there."""
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        pytest.exit(
            "The production-shape suite needs PostgreSQL: "
            "set DATABASE_URL=postgres://postgres@127.0.0.1:5432/<name>.",
            returncode=2,
        )
    if not settings.REDIS_URL:
        pytest.exit(
            "The production-shape suite needs Redis: set REDIS_URL=redis://127.0.0.1:6379/<db> "
            "(a database of its own: the suite empties it).",
            returncode=2,
        )
    import psycopg
    import redis

    db = settings.DATABASES["default"]
    try:
        psycopg.connect(_database_url({**db, "NAME": "postgres"}), connect_timeout=10).close()
    except psycopg.Error as exc:
        pytest.exit(f"PostgreSQL is not reachable: {exc}", returncode=2)
    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=5).flushdb()
    except redis.RedisError as exc:
        pytest.exit(f"Redis is not reachable at {settings.REDIS_URL}: {exc}", returncode=2)


@pytest.fixture(scope="session")
def database(django_db_blocker):
    """A fresh PostgreSQL database, migrated (Django's test database: test_<NAME>), dropped at
    the end. Set up here rather than by pytest-django, which would wrap tests in transactions
    (the servers would never see the data) or empty every table between tests."""
    from django.test.utils import setup_databases, teardown_databases

    _require_services()
    with django_db_blocker.unblock():
        created = setup_databases(verbosity=0, interactive=False, aliases={"default"})
    yield
    with django_db_blocker.unblock():
        teardown_databases(created, verbosity=0)


@pytest.fixture(scope="module")
def server(servers):
    """The running app, with gunicorn workers that have served no other test file: what one
    file's requests do to a worker cannot be blamed on another's."""
    if servers.used:
        servers.renew_workers()
    servers.used = True
    return servers


@pytest.fixture(scope="session")
def servers(request, database, django_db_blocker):
    from django.db import connection

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with django_db_blocker.unblock():
        connection.ensure_connection()
    env = _server_env(connection.settings_dict)
    listener = socket.create_server(("127.0.0.1", 0), backlog=256)
    port = _free_port()
    env["SITE_URL"] = f"http://127.0.0.1:{port}"
    running = Server(
        port=port,
        direct_port=listener.getsockname()[1],
        database=connection.settings_dict["NAME"],
        error_log=ARTIFACTS / "gunicorn-error.log",
        access_log=ARTIFACTS / "gunicorn-access.log",
        cluster_logs=[ARTIFACTS / f"qcluster-{n}.log" for n in range(CLUSTERS)],
        nginx_logs=[ARTIFACTS / "nginx-error.log", ARTIFACTS / "nginx-access.log"],
        env=env,
    )
    for path in running.logs():
        path.write_text("")
    shutil.rmtree(METRICS_DIR, ignore_errors=True)
    METRICS_DIR.mkdir()
    try:
        running.processes.append(_gunicorn(env, listener, running))
        for log in running.cluster_logs:
            running.processes.append(_start([sys.executable, "manage.py", "qcluster"], env, log))
        running.processes.append(start_nginx(running, ARTIFACTS / "nginx-temp", _start))
        listener.close()  # gunicorn holds its own copy
        _wait_until_ready(running)
        request.config._production_server = running
        yield running
    finally:
        stop(running.processes)
        listener.close()
        with django_db_blocker.unblock():
            _disconnect_everyone(connection)


def _free_port():
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]


def _server_env(db):
    env = {key: value for key, value in os.environ.items() if not key.startswith("DJANGO_")}
    env.update(
        DJANGO_SETTINGS_MODULE="timelines.settings",  # the real settings, not the tests'
        DATABASE_URL=_database_url(db),
        DEBUG="false",
        SECRET_KEY=SECRET_KEY,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        ALLOW_PRIVATE_URLS="false",
        EMAIL_URL="consolemail://",
        Q_WORKERS="3",
        SENDER_DISPATCHERS="2",
        LOG_LEVEL="INFO",
        LOG_FORMAT="text",
        # nginx, in front, is on 127.0.0.1: the client's address is the one it passes on.
        TRUSTED_PROXIES="127.0.0.1",
        MEDIA_ROOT=str(MEDIA_ROOT),
        METRICS_TOKEN=METRICS_TOKEN,
        PROMETHEUS_MULTIPROC_DIR=str(METRICS_DIR),
        PYTHONUNBUFFERED="1",
    )
    from django.conf import settings

    env["REDIS_URL"] = settings.REDIS_URL
    return env


def _database_url(db):
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host, port = db.get("HOST") or "127.0.0.1", db.get("PORT") or 5432
    return f"postgres://{db['USER']}{password}@{host}:{port}/{db['NAME']}"


def _start(args, env, log, **kwargs):
    out = open(log, "ab")  # noqa: SIM115 (the process keeps it; closed with the process)
    return subprocess.Popen(
        args,
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # a process group of its own, killed as a whole
        **kwargs,
    )


def _gunicorn(env, listener, running):
    """gunicorn as gunicorn.conf.py configures it (its logger class included), bound to the
    test's socket and logging to the test's files, with the probe in front of each access line."""
    return _start(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--config=gunicorn.conf.py",
            "timelines.wsgi:application",
            f"--workers={WORKERS}",
            "--worker-class=sync",
            f"--bind=fd://{listener.fileno()}",
            "--timeout=60",
            "--graceful-timeout=5",
            f"--access-logfile={running.access_log}",
            f"--access-logformat={ACCESS_FORMAT}",
            f"--error-logfile={running.error_log}",
            "--log-level=info",
        ],
        env,
        running.error_log,
        pass_fds=[listener.fileno()],
    )


def _wait_until_ready(running, timeout=90):
    """Every gunicorn worker has answered a request, and each qcluster says it is running."""
    deadline = time.monotonic() + timeout
    _wait_for_workers(running, deadline)
    for log in running.cluster_logs:
        while b"running." not in log.read_bytes():
            _assert_alive(running, deadline, f"{log.name} to say it is running")
            time.sleep(0.2)


def _wait_for_workers(running, deadline, old=()):
    """Until WORKERS distinct worker pids, none of them in `old`, have answered."""
    pids = set()
    while len(pids) < WORKERS:
        _assert_alive(running, deadline, f"gunicorn's {WORKERS} workers to answer")
        probe = new_probe("ready")
        with contextlib.suppress(OSError):
            with socket.create_connection(("127.0.0.1", running.port), timeout=5) as sock:
                sock.sendall(
                    f"GET /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Probe: {probe}\r\n"
                    "Connection: close\r\n\r\n".encode()
                )
                while sock.recv(65536):
                    pass
            pid = running.worker_of(probe, timeout=5)
            if pid not in old:
                pids.add(pid)


def _assert_alive(running, deadline, what):
    for process in running.processes:
        if process.poll() is not None:
            raise RuntimeError(
                f"{process.args[:3]} exited ({process.returncode}) while waiting for {what}:\n"
                + running.error_tail()
                + "\n"
                + running.nginx_logs[0].read_text()
            )
    if time.monotonic() > deadline:
        raise RuntimeError(f"timed out waiting for {what}:\n" + running.error_tail())


def _disconnect_everyone(connection):
    """Close what the killed processes may have left open, so the database can be dropped."""
    name = connection.settings_dict["NAME"]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            [name],
        )
    connection.close()


@pytest.fixture
def orm(django_db_blocker):
    """The ORM in the test's own process, on the servers' database: every write commits at
    once (no test transaction around it), so the servers see it."""
    with django_db_blocker.unblock():
        yield
    from django.db import connections

    connections.close_all()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    running = getattr(item.config, "_production_server", None)
    item._error_log_offset = running.error_log_size() if running else 0
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under a failing test: what the server logged while it ran (exceptions counted, then the
    tail of gunicorn's error log)."""
    outcome = yield
    report = outcome.get_result()
    running = getattr(item.config, "_production_server", None)
    if running and report.when == "call" and report.failed:
        since = getattr(item, "_error_log_offset", 0)
        report.sections.append(
            ("gunicorn: exceptions during the test", running.error_summary(since))
        )
        report.sections.append(("gunicorn error log (tail)", running.error_tail(since=since)))


def pytest_collection_modifyitems(items):
    """The check that no log carries a secret runs last, over every other file's traffic."""
    last = [item for item in items if item.module.__name__.endswith("secrets_stay_out_of_logs")]
    items[:] = [item for item in items if item not in last] + last
