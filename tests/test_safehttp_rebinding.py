"""P4: the connection goes to the very address the guard checked. A resolver that answers a
public address first and loopback afterwards (DNS rebinding) never gets a request to the
loopback listener; the host name still goes into the Host header, TLS SNI and the certificate
check. Packets only ever go to 127.0.0.1: connects anywhere else are intercepted."""

import socket
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from timelines import safehttp

PUBLIC = "93.184.215.14"


class Listener:
    """A TCP listener on 127.0.0.1 that counts the connections it accepts."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def close(self):
        self.sock.close()


@pytest.fixture
def listener():
    listening = Listener()
    yield listening
    listening.close()


@pytest.fixture
def connects(monkeypatch):
    """Records every connect; lets through only 127.0.0.1 (where the test's servers are)."""
    attempts = []
    real_connect = socket.socket.connect

    def connect(sock, address):
        attempts.append(address[:2])
        if address[0] != "127.0.0.1":
            raise ConnectionRefusedError("intercepted by the test: not loopback")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return attempts


@pytest.fixture
def resolver(monkeypatch):
    """Names -> a list of answers, one per lookup (the last repeats); IP literals as usual."""
    answers, asked = {}, []
    real = socket.getaddrinfo

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        if host not in answers:
            return real(host, port, family, type, proto, socket.AI_NUMERICHOST)
        asked.append(host)
        queue = answers[host]
        address = queue.pop(0) if len(queue) > 1 else queue[0]
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    getaddrinfo.answers, getaddrinfo.asked = answers, asked
    return getaddrinfo


def test_it_connects_only_to_the_checked_address_when_the_name_rebinds(
    settings, resolver, connects, listener
):
    settings.ALLOW_PRIVATE_URLS = False
    resolver.answers["rebind.example"] = [PUBLIC, "127.0.0.1"]
    url = f"http://rebind.example:{listener.port}/hook"
    with pytest.raises(safehttp.FetchError, match="connection failed"):
        safehttp.request("POST", url, json={"event": "x"})
    assert connects == [(PUBLIC, listener.port)]
    assert resolver.asked == ["rebind.example"]  # resolved once: checked and used
    # The next request resolves again, gets loopback now, and is refused before connecting.
    with pytest.raises(safehttp.UnsafeURL, match="resolves to 127.0.0.1"):
        safehttp.request("POST", url, json={"event": "x"})
    assert connects == [(PUBLIC, listener.port)]
    assert listener.accepted == 0


def test_a_kept_alive_session_does_not_reach_the_rebound_address(
    settings, resolver, connects, listener
):
    settings.ALLOW_PRIVATE_URLS = False
    resolver.answers["rebind.example"] = [PUBLIC, "127.0.0.1"]
    session = safehttp.new_session()
    url = f"http://rebind.example:{listener.port}/hook"
    for expected in (safehttp.FetchError, safehttp.UnsafeURL, safehttp.UnsafeURL):
        with pytest.raises(expected):
            safehttp.request("POST", url, data=b"{}", session=session)
    assert connects == [(PUBLIC, listener.port)] and listener.accepted == 0


class Echo(BaseHTTPRequestHandler):
    seen = []

    def do_GET(self):
        self.seen.append(self.headers["Host"])
        body = b"hello"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def echo():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Echo.seen = []
    yield server
    server.shutdown()
    server.server_close()


def test_it_keeps_the_host_name_in_the_host_header(settings, resolver, connects, echo):
    settings.ALLOW_PRIVATE_URLS = True  # the checked address is loopback here
    port = echo.server_address[1]
    resolver.answers["files.example"] = ["127.0.0.1"]
    response = safehttp.request("GET", f"http://files.example:{port}/a")
    assert response.content == b"hello" and Echo.seen == [f"files.example:{port}"]
    assert connects == [("127.0.0.1", port)]


def make_cert(directory, name):
    key, cert = directory / f"{name}.key", directory / f"{name}.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"]
        + ["-keyout", str(key), "-out", str(cert), "-subj", f"/CN={name}"]
        + ["-addext", f"subjectAltName=DNS:{name}"]
        + ["-addext", "basicConstraints=critical,CA:TRUE"],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def tls_server(tmp_path):
    """An HTTPS server on 127.0.0.1 with a certificate for files.example; records the SNI."""
    cert, key = make_cert(tmp_path, "files.example")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    names = []
    context.sni_callback = lambda sock, name, ctx: names.append(name)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Echo.seen = []
    yield server.server_address[1], cert, names
    server.shutdown()
    server.server_close()


def test_it_keeps_the_host_name_for_tls_sni_and_the_certificate(
    settings, resolver, connects, tls_server, monkeypatch
):
    settings.ALLOW_PRIVATE_URLS = True
    port, cert, names = tls_server
    monkeypatch.setattr(requests.adapters, "DEFAULT_CA_BUNDLE_PATH", str(cert))
    resolver.answers["files.example"] = ["127.0.0.1"]
    response = safehttp.request("GET", f"https://files.example:{port}/a")
    assert response.content == b"hello"
    assert names == ["files.example"] and Echo.seen == [f"files.example:{port}"]
    assert connects == [("127.0.0.1", port)]
    # Another name for the same address: the certificate does not match it, refused.
    resolver.answers["other.example"] = ["127.0.0.1"]
    with pytest.raises(safehttp.FetchError, match="TLS error"):
        safehttp.request("GET", f"https://other.example:{port}/a")
    assert names[-1] == "other.example"
