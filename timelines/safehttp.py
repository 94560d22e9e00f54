"""The one seam for outbound HTTP to user-supplied URLs (outbound webhooks, file_url downloads,
WAHA). Nothing else calls `requests` directly.

Every request gets a timeout and our User-Agent, has its body read with a size cap while it
streams, follows redirects itself so that each hop is checked again, and refuses hosts that
resolve to loopback, private, link-local, multicast or reserved addresses unless
settings.ALLOW_PRIVATE_URLS is on (tests and local development need loopback).
"""

import http.cookiejar
import ipaddress
import socket
import time
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from django.conf import settings

USER_AGENT = "Timelines/1.0 (+https://github.com/timelines)"
DEFAULT_TIMEOUT = 10
MAX_REDIRECTS = 5


class FetchError(Exception):
    """The request could not be made or completed; the message says why, in plain words."""


class UnsafeURL(FetchError):
    """The URL is not http(s) or points at an address we must not reach."""


class TooLarge(FetchError):
    def __init__(self, limit):
        super().__init__(f"the response is larger than {limit} bytes")
        self.limit = limit


@dataclass
class Response:
    status: int
    headers: dict
    content: bytes
    url: str
    elapsed: float  # seconds
    history: list = field(default_factory=list)

    @property
    def ok(self):
        return 200 <= self.status < 300

    @property
    def content_type(self):
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def text(self, limit=None):
        body = self.content if limit is None else self.content[:limit]
        return body.decode("utf-8", errors="replace")


def new_session():
    """A session for many requests in a row (the outbound webhook's workers): connections to the
    same host are kept alive and reused; every request is still checked like any other. Cookies
    are refused, so that nothing one receiver sets travels to another."""
    session = requests.Session()
    session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    return session


def _is_public(ip):
    return ip.is_global and not ip.is_multicast


def origin(url):
    """'http://Host:80/x' -> 'http://host:80': what an operator names when trusting a server."""
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{parts.port or default}"


def check_url(url, trusted=()):
    """Raise UnsafeURL unless `url` is http(s) and every address its host resolves to is public
    (or private addresses are allowed, globally or for the `trusted` origins the operator named,
    e.g. a WAHA server on the same machine)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeURL(f"'{url}' is not an http(s) URL")
    if settings.ALLOW_PRIVATE_URLS or origin(url) in {origin(t) for t in trusted}:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError(f"cannot resolve host '{parts.hostname}' ({exc})") from None
    for info in infos:
        ip = ipaddress.ip_address(info[4][0].split("%")[0])
        if not _is_public(ip):
            raise UnsafeURL(
                f"'{parts.hostname}' resolves to {ip}, a private or reserved address; "
                "only public addresses are allowed"
            )


def request(
    method,
    url,
    *,
    headers=None,
    data=None,
    json=None,
    timeout=DEFAULT_TIMEOUT,
    max_bytes=None,
    session=None,
    follow_redirects=True,
    trusted=(),
    total_timeout=None,
):
    """Make one request (following up to MAX_REDIRECTS checked redirects); return a Response.

    With follow_redirects=False a 3xx answer is returned as it is (webhook receivers must answer
    2xx themselves; a redirect is their error to fix, not ours to follow).

    Raises FetchError (UnsafeURL, TooLarge) with a readable reason for every failure to get an
    answer; a non-2xx answer is a Response, not an error. `trusted` origins may be private (each
    redirect hop is checked on its own, so a trusted server cannot bounce us elsewhere).

    `timeout` bounds each connect and each read; `total_timeout` (seconds) also bounds the whole
    exchange, so that a server dripping a byte at a time cannot hold a worker for long.
    """
    http = session or requests
    all_headers = {"User-Agent": USER_AGENT, **(headers or {})}
    started = time.monotonic()
    deadline = started + total_timeout if total_timeout else None
    history = []
    for _ in range(MAX_REDIRECTS + 1):
        check_url(url, trusted)
        raw = _send(http, method, url, all_headers, data, json, timeout)
        with raw:
            if follow_redirects and raw.is_redirect and raw.headers.get("location"):
                history.append(url)
                url = urljoin(url, raw.headers["location"])
                if raw.status_code in (301, 302, 303) and method != "HEAD":
                    method, data, json = "GET", None, None
                continue
            content = _read_capped(raw, max_bytes, deadline)
            return Response(
                status=raw.status_code,
                headers={k.lower(): v for k, v in raw.headers.items()},
                content=content,
                url=url,
                elapsed=time.monotonic() - started,
                history=history,
            )
    raise FetchError(f"too many redirects (more than {MAX_REDIRECTS})")


def _send(http, method, url, headers, data, json, timeout):
    try:
        return http.request(
            method,
            url,
            headers=headers,
            data=data,
            json=json,
            timeout=timeout,
            allow_redirects=False,
            stream=True,
        )
    except requests.exceptions.Timeout:
        raise FetchError(f"timed out after {timeout} s") from None
    except requests.exceptions.SSLError as exc:
        raise FetchError(f"TLS error: {_reason(exc)}") from None
    except requests.exceptions.ConnectionError as exc:
        raise FetchError(f"connection failed: {_reason(exc)}") from None
    except (
        requests.exceptions.InvalidURL,
        requests.exceptions.MissingSchema,
        requests.exceptions.InvalidSchema,
    ) as exc:
        raise UnsafeURL(f"invalid URL: {exc}") from None
    except requests.exceptions.RequestException as exc:
        raise FetchError(f"request failed: {_reason(exc)}") from None


def _read_capped(raw, max_bytes, deadline=None):
    declared = raw.headers.get("content-length", "")
    if max_bytes is not None and declared.isdigit() and int(declared) > max_bytes:
        raise TooLarge(max_bytes)
    chunks, size = [], 0
    try:
        for chunk in _arriving(raw):
            size += len(chunk)
            if max_bytes is not None and size > max_bytes:
                raise TooLarge(max_bytes)
            if deadline is not None and time.monotonic() > deadline:
                raise FetchError("timed out while reading the response")
            chunks.append(chunk)
    except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError) as exc:
        raise FetchError(f"reading the response failed: {_reason(exc)}") from None
    return b"".join(chunks)


def _arriving(raw):
    """The body in pieces as they arrive: read1 returns whatever has landed instead of waiting for
    a full chunk, so a server dripping bytes meets the deadline check at least once a read."""
    while chunk := raw.raw.read1(64 * 1024, decode_content=True):
        yield chunk


def _reason(exc):
    """The innermost, most specific reason of a requests exception, on one line."""
    inner = exc
    while inner.__cause__ or inner.__context__:
        inner = inner.__cause__ or inner.__context__
    text = str(inner) or str(exc)
    if "Connection refused" in str(exc):
        return "connection refused"
    if "Name or service not known" in str(exc) or "nodename nor servname" in str(exc):
        return "unknown host"
    return text.splitlines()[0][:300]
