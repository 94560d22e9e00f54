"""The first run and the documentation, as a new user meets them: `make run ADDR=127.0.0.1:<free
port>` serves, its banner says where to sign in, the Inbound page and `inbound_webhook Demo` show
that port, and every shell block of docs/ marked runnable (```sh runnable) runs as written
against it, on the demo data, offline."""

import http.cookiejar
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
