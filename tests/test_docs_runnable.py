"""The first run and the documentation, as a new user meets them: `make run ADDR=127.0.0.1:<free
port>` serves, its banner says where to sign in, the Inbound page and `inbound_webhook Demo` show
that port, and every shell block of docs/ marked runnable (```sh runnable) runs as written
against it, on the demo data, offline."""

import http.cookiejar
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUNNABLE = re.compile(r"^```sh runnable\n(.*?)^```", re.MULTILINE | re.DOTALL)
PASSWORD = "docs-demo-pass-123"
# What the test process carries that a reader's shell would not (tests/settings.py sets some).
NOT_THE_READERS = {
    "DJANGO_SETTINGS_MODULE",
    "SECRET_KEY",
    "SITE_URL",
    "ALLOW_PRIVATE_URLS",
    "DEBUG",
    "DATABASE_URL",
    "REDIS_URL",
    "LOG_LEVEL",
}

pytestmark = pytest.mark.slow


def runnable_blocks():
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for number, block in enumerate(RUNNABLE.findall(path.read_text()), start=1):
            yield pytest.param(block, id=f"{path.name}-{number}")


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class App:
    def __init__(self, folder):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = folder / "make-run.log"
        self.env = {k: v for k, v in os.environ.items() if k not in NOT_THE_READERS}
        self.env.update(
            DATABASE_URL=f"sqlite:///{folder / 'db.sqlite3'}",
            DEMO_PASSWORD=PASSWORD,
            DEMO_PASSWORD_FILE=str(folder / ".demo-password"),
            MEDIA_ROOT=str(folder / "media"),
        )

    def start(self):
        self.process = subprocess.Popen(
            ["make", "run", f"ADDR=127.0.0.1:{self.port}"],
            cwd=ROOT,
            env=self.env,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 180
        while "Timelines: open" not in self.output():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"make run did not come up:\n{self.output()}")
            time.sleep(0.5)

    def stop(self):
        # Ctrl-C as a user would: make's trap stops the worker too.
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            self.process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def output(self):
        return self.log.read_text(errors="replace")

    def shell(self, script, timeout=120):
        return subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    app = App(tmp_path_factory.mktemp("make-run"))
    app.start()
    yield app
    app.stop()


def signed_in(app):
    """An opener with the demo owner's session on the running server."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.open(app.url + "/accounts/login/").read()
    token = next(c.value for c in jar if c.name == "csrftoken")
    form = {"username": "owner", "password": PASSWORD, "csrfmiddlewaretoken": token}
    opener.open(app.url + "/accounts/login/", urllib.parse.urlencode(form).encode()).read()
    return opener


def test_make_run_serves_on_the_address_given_and_every_url_follows(app):
    banner = app.output()
    assert f"Timelines: open {app.url}/ and sign in as owner, password {PASSWORD}" in banner
    assert "Emails:    printed in this console" in banner
    assert "Receivers: webhooks may point at this machine (http://127.0.0.1:…)" in banner
    assert banner.rstrip().endswith("Read on:   README.md, then docs/owners.md for what to try")
    assert " INFO django-q " not in banner  # the worker logs warnings only

    opener = signed_in(app)
    home = opener.open(app.url + "/")
    workspace_id = re.search(r"/w/(\d+)/", home.geturl()).group(1)
    page = opener.open(f"{app.url}/w/{workspace_id}/integrations/inbound/").read().decode()
    assert f'value="{app.url}/webhooks/inbound/' in page
    curl = re.search(r'id="curl-example">(.*?)</pre>', page, re.DOTALL).group(1)
    assert f"{app.url}/webhooks/inbound/" in curl
    assert ":8000" not in page

    # A command in another shell, which knows nothing of ADDR, prints the same address.
    shown = app.shell("DEBUG=true .venv/bin/python manage.py inbound_webhook Demo")
    assert shown.returncode == 0, shown.stderr
    assert f'"url": "{app.url}/webhooks/inbound/' in shown.stdout


@pytest.mark.parametrize("block", list(runnable_blocks()))
def test_the_docs_commands_run_as_written(app, block):
    done = app.shell(block)
    print(done.stdout, done.stderr)  # shown when it fails, and with -s
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stdout + done.stderr


def test_a_local_receiver_works_under_make_run_without_a_restart(app):
    """The owner adds a Webhooks v2 endpoint at a receiver on this machine on the page, and the
    worker delivers to it: development allows loopback receivers (production refuses them)."""
    from tests.outbound_helpers import Receiver

    receiver = Receiver()
    try:
        opener = signed_in(app)
        home = opener.open(app.url + "/").geturl()
        workspace_id = re.search(r"/w/(\d+)/", home).group(1)
        page = f"{app.url}/w/{workspace_id}/integrations/webhooks/"
        html = opener.open(page).read().decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
        form = {"csrfmiddlewaretoken": token, "url": receiver.url, "event_type": "message:new"}
        added = opener.open(page, urllib.parse.urlencode({**form, "enabled": "on"}).encode())
        assert re.search(r"/integrations/webhooks/\d+/$", added.geturl()), added.read()[:2000]
        sent = app.shell(
            "DEBUG=true .venv/bin/python manage.py simulate_incoming --account +15105566777 "
            "--from +14151231234 --text 'to the local receiver'"
        )
        assert sent.returncode == 0, sent.stderr
        deadline = time.monotonic() + 60
        while not receiver.requests and time.monotonic() < deadline:
            time.sleep(0.2)
        assert receiver.bodies()[0]["message"]["text"] == "to the local receiver"
    finally:
        receiver.close()


def test_the_switch_off_email_gives_a_command_that_runs_as_written(app):
    """A v2 endpoint at a dead local address fails eleven times and switches itself off; the
    email printed in the make run console gives a command that, pasted into another shell (any
    folder, no DEBUG), switches it back on and prints only its JSON."""
    from tests.outbound_helpers import closed_port_url

    added = app.shell(
        f"DEBUG=true .venv/bin/python manage.py webhooks_v2 Demo --add {closed_port_url()} "
        "--event message:received:new"
    )
    assert added.returncode == 0, added.stderr
    pk = json.loads(added.stdout)["id"]
    stored = app.shell(
        'DEBUG=true .venv/bin/python manage.py shell -c "'
        "from whatsapp.models import Account; "
        "from whatsapp.transports.simulator import SimulatorTransport; "
        "account = Account.objects.get(phone='+15105566777'); "
        "[SimulatorTransport(account).receive(from_phone='+14151231234', text=f'lost {i}') "
        'for i in range(11)]"'
    )
    assert stored.returncode == 0, stored.stderr
    wanted = re.compile(rf"^ +(cd .* manage\.py webhooks_v2 \d+ --enable {pk})$", re.MULTILINE)
    deadline = time.monotonic() + 90
    while not wanted.search(app.output()) and time.monotonic() < deadline:
        time.sleep(0.5)
    console = app.output()
    assert wanted.search(console), console[-3000:]
    assert "deliver(ies)" not in console and "delivery(ies)" not in console
    done = app.shell(f"cd / && {wanted.search(console).group(1)}")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # no "INFO … Enqueued" beside the JSON
    assert json.loads(done.stdout)["enabled"] is True
