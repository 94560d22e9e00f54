"""Talking to the running server the way clients do (new connection per request, raw sockets
for framings no client library would send), and the data the tests start from."""

import http.client
import itertools
import json
import re
import socket
import threading
import time
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.core import signing

from credits.models import Balance, LedgerEntry, grant
from timelines.models import Workspace
from webhooks.endpoints import links
from webhooks.endpoints.models import ApiToken
from webhooks.inbound.models import InboundWebhook
from whatsapp.models import Account, Chat, WahaConnection

_probes = itertools.count(1)
_numbers = itertools.count(1)
_lock = threading.Lock()


def new_probe(prefix="req"):
    """A unique value for the X-Probe header: gunicorn logs it with the worker's pid."""
    return f"{prefix}-{next(_probes)}"


# -- HTTP ----------------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    body: bytes
    probe: str
    headers: dict = field(default_factory=dict)

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<{self.status} {self.body[:200]!r} probe={self.probe}>"


def post(server, path, body, headers=None, probe=None, timeout=60, port=None, method="POST"):
    """POST a JSON body (dict) or raw bytes (or an iterator of them, sent chunked) on a new
    connection, as most integrations do; through nginx, or to `port`."""
    probe = probe or new_probe()
    raw = json.dumps(body).encode() if isinstance(body, dict | list | str) else body
    connection = http.client.HTTPConnection("127.0.0.1", port or server.port, timeout=timeout)
    try:
        connection.request(
            method,
            path,
            body=raw,
            headers={"Content-Type": "application/json", "X-Probe": probe, **(headers or {})},
        )
        response = connection.getresponse()
        return Answer(response.status, response.read(), probe, dict(response.getheaders()))
    finally:
        connection.close()


@dataclass
class Exchange:
    """What came back over a raw socket: an HTTP answer, or a close (or silence) without one."""

    raw: bytes
    timed_out: bool = False

    def __post_init__(self):
        # An interim "100 Continue" (the answer to Expect: 100-continue) precedes the answer.
        while re.match(rb"HTTP/1\.[01] 1\d\d ", self.raw) and b"\r\n\r\n" in self.raw:
            self.raw = self.raw.partition(b"\r\n\r\n")[2]

    @property
    def status(self):
        head = self.raw.split(b"\r\n", 1)[0].split()
        return int(head[1]) if len(head) >= 2 and head[0].startswith(b"HTTP/") else None

    @property
    def body(self):
        """The first answer's body: nginx keeps the connection open and answers what follows
        it (a pipelined request, the bytes past a Content-Length) too."""
        body = self.raw.partition(b"\r\n\r\n")[2]
        length = self.header("content-length")
        return body[: int(length)] if length.isdigit() else body

    @property
    def content_type(self):
        return self.header("content-type")

    def header(self, wanted):
        head = self.raw.partition(b"\r\n\r\n")[0].decode("latin-1").lower()
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.strip() == wanted:
                return value.strip()
        return ""

    def outcome(self):
        if self.status is not None:
            return str(self.status)
        return "no answer (timed out)" if self.timed_out else "closed without answer"


def exchange(server, data, timeout=10, port=None):
    """Send `data` as is (to nginx, or to `port`), end our side of the connection (so a short
    body is seen to end) and read whatever comes back until the server closes."""
    received = b""
    address = ("127.0.0.1", port or server.port)
    with socket.create_connection(address, timeout=timeout) as sock:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server may answer and close before it has read everything
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except TimeoutError:
            return Exchange(received, timed_out=True)
        except ConnectionResetError:
            pass
    return Exchange(received)


# -- Data ----------------------------------------------------------------------------------------


def next_number(prefix="+1510556"):
    """A fresh valid phone number: prefix + 4 digits (never 0000, which the simulator fails)."""
    with _lock:
        return f"{prefix}{next(_numbers) % 9999 + 1:04d}"


@dataclass
class Tenant:
    workspace: Workspace
    owner: object
    accounts: list
    webhook: InboundWebhook
    password: str = ""

    @property
    def path(self):
        return self.webhook.path

    @property
    def account(self):
        return self.accounts[0]

    def balance(self):
        return Balance.of(self.workspace)

    def ledger_total(self):
        return LedgerEntry.total(self.workspace)


def tenant(name, credits=0, accounts=1, password="pw-production-owner-1"):
    """A workspace with its owner, `accounts` connected simulator accounts, its inbound
    webhook and `credits`. The owner's password is hashed with the production settings'
    hasher, so the server can check it at login."""
    name = f"{name} {next(_probes)}"
    username = name.lower().replace(" ", "-")
    owner = get_user_model().objects.create(username=username, email=f"{username}@example.com")
    owner.password = PBKDF2PasswordHasher().encode(password, PBKDF2PasswordHasher().salt())
    owner.save(update_fields=["password"])
    workspace = Workspace.create_for(owner, name)
    connected = []
    for _ in range(accounts):
        account = Account.objects.create(
            workspace=workspace, phone=next_number(), connected_by=owner, transport="simulator"
        )
        account.mark_connected()
        connected.append(account)
    if credits:
        grant(workspace, credits, "production-shape suite")
    webhook = InboundWebhook.for_workspace(workspace)
    return Tenant(workspace, owner, connected, webhook, password)


def linked_to_waha(shop, fake):
    """A new account of `shop`, linked through the fake WAHA `fake` (session 'default')."""
    connection = WahaConnection.objects.create(
        workspace=shop.workspace,
        base_url=fake.url,
        api_key=fake.api_key,
        session="default",
        server={"version": fake.version, "engine": fake.engine, "tier": fake.tier},
    )
    fake.sessions["default"] = {}
    shop.accounts.append(connection.link(next_number()))
    return connection


def waha_tenant(name, waha, credits):
    """A tenant whose one account is linked through the fake WAHA `waha` (session default)."""
    found = tenant(name, credits=credits, accounts=0)
    linked_to_waha(found, waha)
    return found


def wait_for(condition, seconds, what):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def direct_chat(account, phone=None, name=""):
    return Chat.get_or_create_direct(account, phone or next_number("+1415123"), name)[0]


# -- Secrets the tests used, for the check that no log carries them (SPEC P6) ------------------

SECRETS = []  # besides the inbound tokens and WAHA secrets, which the database keeps


def api_token(workspace, name="CRM"):
    """A new API token of `workspace` (remembered: only its digest is stored)."""
    token = ApiToken.issue(workspace, name)[1]
    SECRETS.append(token)
    return token


def attachment_link(message, secret_key):
    """The path of `message`'s attachment link as the servers sign it (with their SECRET_KEY),
    remembered."""
    expires = int(time.time()) + 3600
    token = signing.Signer(key=secret_key, salt=links.SALT).sign(f"{message.pk}.{expires}")
    SECRETS.append(token)
    return f"/files/{token}/"
