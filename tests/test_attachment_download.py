"""Downloading a message's file_url (I7, I8) from a real HTTP server on 127.0.0.1."""

import ipaddress
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from timelines import urlguard
from whatsapp import attachments
from whatsapp.attachments import AttachmentError, fetch_attachment, looks_like_html

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100
TWO_MB = 2 * 1024 * 1024
SHARE_PAGE = b"<!DOCTYPE html><html><head><title>Shared file</title></head><body>...</body></html>"


class Files(BaseHTTPRequestHandler):
    """Routes: path -> (status, headers, body or a callable that writes the body)."""

    routes = {}
    hits = []

    def do_GET(self):
        self.hits.append(self.path)
        if self.path == "/slow-headers":
            time.sleep(3)  # the answer's headers come late
        status, headers, body = self.routes.get(self.path, (404, {}, b"not found"))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if callable(body):
            self.end_headers()
            body(self.wfile)
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def oversized(wfile):
    """More than 2 MB with no Content-Length: only the streamed count can stop it."""
    for _ in range(TWO_MB // 65536 + 2):
        wfile.write(b"x" * 65536)


def dripping(wfile):
    for _ in range(40):
        wfile.write(b"x")
        wfile.flush()
        time.sleep(0.05)


def open_after_the_last_piece(wfile):
    """A few pieces, then the connection stays open (no Content-Length says it is over)."""
    for _ in range(3):
        wfile.write(b"x" * 100)
        wfile.flush()
        time.sleep(0.3)
    time.sleep(3)


@pytest.fixture(scope="module")
def files_server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Files)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    Files.routes = {
        "/logo.png": (200, {"Content-Type": "image/png"}, PNG),
        "/report": (200, {"Content-Type": "application/octet-stream"}, b"%PDF-1.4 ..."),
        "/exactly-2mb": (200, {"Content-Type": "application/zip"}, b"z" * TWO_MB),
        "/declared-big": (200, {"Content-Length": str(TWO_MB + 1)}, lambda w: w.write(b"x")),
        "/streamed-big": (200, {"Content-Type": "application/zip"}, oversized),
        "/share": (200, {"Content-Type": "text/html; charset=utf-8"}, SHARE_PAGE),
        "/sniffed": (200, {"Content-Type": "application/octet-stream"}, b"\n  " + SHARE_PAGE),
        "/forbidden": (403, {"Content-Type": "text/html"}, b"<html>no</html>"),
        "/moved": (302, {"Location": "/logo.png"}, b""),
        "/to-private": (302, {"Location": base.replace("127.0.0.1", "127.0.0.2") + "/x"}, b""),
        "/drip": (200, {"Content-Type": "application/zip"}, dripping),
        "/slow-headers": (200, {"Content-Type": "application/zip"}, b"late"),
        "/open": (200, {"Content-Type": "application/zip"}, open_after_the_last_piece),
    }
    yield base
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def server(files_server):
    Files.hits = []
    return files_server


def test_it_downloads_a_file_with_its_type_and_the_given_name(server):
    attachment = fetch_attachment(f"{server}/logo.png", "logo.png")
    assert (attachment.name, attachment.mime, attachment.content) == ("logo.png", "image/png", PNG)


def test_it_takes_the_type_from_the_name_when_the_server_does_not_say(server):
    assert fetch_attachment(f"{server}/report", "report.pdf").mime == "application/pdf"


def test_it_accepts_exactly_2_mb(server):
    assert fetch_attachment(f"{server}/exactly-2mb", "a.zip").size == TWO_MB


@pytest.mark.parametrize("path", ["/declared-big", "/streamed-big"])
def test_it_refuses_a_file_over_2_mb(server, path):
    with pytest.raises(AttachmentError, match="larger than the 2 MB limit"):
        fetch_attachment(server + path, "a.zip")


@pytest.mark.parametrize("path", ["/share", "/sniffed"])
def test_it_refuses_a_web_page_asking_for_a_direct_download_link(server, path):
    with pytest.raises(AttachmentError, match="web page instead of a file.*direct download link"):
        fetch_attachment(server + path, "file.pdf")


def test_it_reports_an_error_status(server):
    with pytest.raises(AttachmentError, match="answered HTTP 403"):
        fetch_attachment(f"{server}/forbidden", "file.pdf")


def test_it_reports_an_unreachable_server(server):
    port = server.rsplit(":", 1)[1]
    with pytest.raises(AttachmentError, match="unreachable.*connection refused"):
        fetch_attachment(f"http://127.0.0.1:{int(port) + 1 if port != '65535' else 1}/x", "x")


def test_it_follows_a_redirect(server):
    assert fetch_attachment(f"{server}/moved", "logo.png").content == PNG


def test_it_refuses_a_private_address_when_they_are_not_allowed(server, settings):
    settings.ALLOW_PRIVATE_URLS = False
    with pytest.raises(AttachmentError, match="private or reserved address.*public address"):
        fetch_attachment(f"{server}/logo.png", "logo.png")
    assert Files.hits == []  # refused before connecting


def test_it_checks_every_redirect_hop_again(server, settings, monkeypatch):
    # Let 127.0.0.1 pass as "public" for this test; its redirect to 127.0.0.2 must still fail.
    settings.ALLOW_PRIVATE_URLS = False
    monkeypatch.setattr(urlguard, "_is_public", lambda ip: ip == ipaddress.ip_address("127.0.0.1"))
    with pytest.raises(AttachmentError, match="127.0.0.2"):
        fetch_attachment(f"{server}/to-private", "x")
    assert Files.hits == ["/to-private"]


def test_it_gives_up_on_a_download_that_takes_too_long(server, monkeypatch):
    monkeypatch.setattr(attachments, "DOWNLOAD_DEADLINE", 0.3)
    started = time.monotonic()
    with pytest.raises(AttachmentError, match="timed out"):
        fetch_attachment(f"{server}/drip", "a.zip")
    assert time.monotonic() - started < 1.5


@pytest.mark.parametrize("path", ["/slow-headers", "/open"])
def test_its_deadline_also_bounds_the_wait_for_headers_and_for_the_close(server, monkeypatch, path):
    """SPEC P8: every wait of a download ends at its deadline, not only the wait for a piece."""
    monkeypatch.setattr(attachments, "DOWNLOAD_DEADLINE", 1.0)
    started = time.monotonic()
    with pytest.raises(AttachmentError, match="timed out"):
        fetch_attachment(f"{server}{path}", "a.zip")
    assert time.monotonic() - started < 1.4


@pytest.mark.parametrize(
    "content_type, body, html",
    [
        ("", b"<html lang='en'>", True),
        ("", b"\xef\xbb\xbf<!doctype html>", True),
        ("", b'<?xml version="1.0"?>\n<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0//EN">', True),
        ("", b"<p>Download</p>", True),
        ("application/xhtml+xml", b"anything", True),
        ("", b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', False),
        ("", b"<binary>", False),
        ("image/png", PNG, False),
        ("text/plain", b"hello <html>", False),
    ],
)
def test_it_tells_web_pages_from_files(content_type, body, html):
    assert looks_like_html(content_type, body) is html


# -- Through the endpoint and the paced sender ---------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path, error",
    [
        ("/streamed-big", "larger than the 2 MB limit"),
        ("/share", "direct download link"),
        ("/forbidden", "HTTP 403"),
        ("/nowhere", "HTTP 404"),
    ],
)
def test_it_fails_and_refunds_a_message_whose_file_cannot_be_sent(
    client, inbound_webhook, chat, server, path, error, django_capture_on_commit_callbacks
):
    from credits.models import Balance
    from tests.inbound_helpers import post
    from whatsapp.models import Message
    from whatsapp.sender import drain_now

    body = {"action": "send", "chat_id": chat.chat_id, "text": "Invoice"}
    body.update(file_url=server + path, file_name="invoice.pdf")
    with django_capture_on_commit_callbacks(execute=True):  # wakes the sender
        response = post(client, inbound_webhook, body)
    assert response.status_code == 200
    assert Balance.of(chat.account.workspace) == 98  # text and file: 2 credits
    drain_now()
    message = Message.objects.get(message_id=response.json()["data"]["message_id"])
    assert message.status == Message.FAILED and error in message.error
    assert Balance.of(chat.account.workspace) == 100
    status = client.get(f"{inbound_webhook.path}messages/{message.message_id}/").json()["data"]
    assert status["status"] == "failed" and error in status["error"]


@pytest.mark.django_db
def test_it_sends_a_message_with_its_downloaded_file(
    client, inbound_webhook, chat, server, django_capture_on_commit_callbacks
):
    from tests.inbound_helpers import post
    from whatsapp.models import Message
    from whatsapp.sender import drain_now

    body = {"action": "send", "chat_id": chat.chat_id, "file_url": f"{server}/logo.png"}
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, inbound_webhook, {**body, "file_name": "logo.png"})
    drain_now()
    message = Message.objects.get(message_id=response.json()["data"]["message_id"])
    assert message.status == Message.SENT, message.error
    assert (message.attachment_mime, message.attachment_size) == ("image/png", len(PNG))
