"""The one seam for outbound HTTP to user-supplied URLs (outbound webhooks, file_url downloads,
WAHA). Nothing else calls `requests` directly.

Every request gets a timeout and our User-Agent, has its body read with a size cap while it
streams, and follows redirects itself so that each hop is checked again.

The guard (SPEC P4, timelines/urlguard.py) checks a URL and the addresses its host resolves to;
the host is resolved ONCE per request and the connection is made to an address that was checked
(`_GuardedAdapter`), never to what a second lookup might answer, while the host name still goes
into the Host header, TLS SNI and the certificate check.
"""

import http.cookiejar
import time
from dataclasses import dataclass, field
from urllib.parse import urljoin

import requests
import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util.connection import create_connection

# The guard (timelines/urlguard.py) and its errors, also reached through this module: callers
# check a URL (safehttp.check_url, safehttp.origin) and catch safehttp.FetchError alike.
from timelines.urlguard import (  # noqa: F401
    FetchError,
    InvalidURL,
    UnsafeURL,
    check_url,
    checked_addresses,
    embedded_ipv4,
    origin,
    parse_url,
)
from timelines.urlguard import reason_of as _reason

USER_AGENT = "Timelines/1.0 (+https://github.com/timelines)"
DEFAULT_TIMEOUT = 10
MAX_REDIRECTS = 5


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


# -- Connecting to the checked address -------------------------------------------------------


class _PinnedConnectionMixin:
    """A connection that opens its socket to one of `checked` (the addresses the guard
    resolved and checked), in order, instead of resolving `host` again. `host` stays the name,
    so the Host header, TLS SNI and the certificate check are unchanged."""

    def __init__(self, *args, checked=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.checked = checked

    def _new_conn(self):
        if not self.checked:
            raise NewConnectionError(self, "refused: no checked address to connect to")
        last = None
        for address in self.checked:
            try:
                return create_connection(
                    (address, self.port),
                    self.timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except OSError as exc:
                last = exc
        if isinstance(last, TimeoutError):
            raise ConnectTimeoutError(
                self, f"Connection to {self.host} timed out. (connect timeout={self.timeout})"
            ) from last
        raise NewConnectionError(self, f"Failed to establish a new connection: {last}") from last


class _PinnedHTTPConnection(_PinnedConnectionMixin, HTTPConnection):
    pass


class _PinnedHTTPSConnection(_PinnedConnectionMixin, HTTPSConnection):
    pass


class _PinnedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _PinnedHTTPConnection


class _PinnedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _PinnedHTTPSConnection


class _PinnedPoolManager(urllib3.PoolManager):
    """Pools keyed by host AND checked addresses: a keep-alive connection is reused only for a
    request whose host resolved to the same checked addresses."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.pool_classes_by_scheme = {"http": _PinnedHTTPPool, "https": _PinnedHTTPSPool}

    def pinned_pool(self, checked, host, port, scheme, pool_kwargs):
        context = self._merge_pool_kwargs(pool_kwargs)
        context.update(scheme=scheme, host=host, port=port)
        key = (checked, self.key_fn_by_scheme[scheme](context))
        return self.connection_from_pool_key(key, request_context={**context, "checked": checked})


class _GuardedAdapter(requests.adapters.HTTPAdapter):
    """requests' adapter, connecting only to the addresses `request()` checked for this very
    request (carried on the prepared request); a request without them is not sent. Proxies are
    never used: a proxy would resolve the name again."""

    def init_poolmanager(self, connections, maxsize, block=False, **pool_kwargs):
        self._pool_connections, self._pool_maxsize, self._pool_block = connections, maxsize, block
        self.poolmanager = _PinnedPoolManager(
            num_pools=connections, maxsize=maxsize, block=block, **pool_kwargs
        )

    def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None):
        checked = getattr(request, "checked_addresses", None)
        if not checked:
            raise requests.exceptions.InvalidURL(
                "refused: the URL was not checked", request=request
            )
        host_params, pool_kwargs = self.build_connection_pool_key_attributes(request, verify, cert)
        scheme = host_params["scheme"].lower()
        port = host_params["port"] or (443 if scheme == "https" else 80)
        return self.poolmanager.pinned_pool(checked, host_params["host"], port, scheme, pool_kwargs)

    def get_connection(self, url, proxies=None):
        raise requests.exceptions.InvalidURL("refused: the URL was not checked")

    def request_url(self, request, proxies):
        return super().request_url(request, {})


def new_session():
    """A session for many requests in a row (the outbound webhook's workers): connections to the
    same host are kept alive and reused; every request is still checked like any other. Cookies
    are refused, so that nothing one receiver sets travels to another; proxies from the
    environment are ignored, so that the connection goes to the address that was checked."""
    session = requests.Session()
    session.trust_env = False
    session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    adapter = _GuardedAdapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


# -- Requests --------------------------------------------------------------------------------


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
    into=None,
):
    """Make one request (following up to MAX_REDIRECTS checked redirects); return a Response.

    With follow_redirects=False a 3xx answer is returned as it is (webhook receivers must answer
    2xx themselves; a redirect is their error to fix, not ours to follow).

    Raises FetchError (InvalidURL, UnsafeURL, TooLarge) with a readable reason for every failure
    to get an answer; a non-2xx answer is a Response, not an error. `trusted` origins may be
    private (each redirect hop is checked on its own, so a trusted server cannot bounce us
    elsewhere). `session` must come from new_session().

    `timeout` bounds each connect and each read; `total_timeout` (seconds) also bounds the whole
    exchange - connecting, waiting for the headers, every piece of the body and the close - so
    that a server dripping a byte at a time, or keeping the connection open after the last one,
    cannot hold a worker past it (the paced sender counts on that, SPEC P8).

    `into` (a writable binary file): the body is written there as it arrives, in constant
    memory whatever its size (received media, SPEC M1), and the Response's content is empty.
    """
    own_session = session is None
    http = new_session() if own_session else session
    all_headers = {"User-Agent": USER_AGENT, **(headers or {})}
    started = time.monotonic()
    deadline = started + total_timeout if total_timeout else None
    history = []
    try:
        for _ in range(MAX_REDIRECTS + 1):
            wait = _within(timeout, deadline)
            raw = _send(http, method, url, all_headers, data, json, wait, trusted)
            with raw:
                location = raw.headers.get("location")
                if follow_redirects and raw.is_redirect and location:
                    history.append(url)
                    try:
                        url = urljoin(url, location)
                    except ValueError:
                        raise InvalidURL(
                            f"the redirect to '{location[:200]}' is not a valid URL"
                        ) from None
                    if raw.status_code in (301, 302, 303) and method != "HEAD":
                        method, data, json = "GET", None, None
                    continue
                content = _read_capped(raw, max_bytes, timeout, deadline, into)
                return Response(
                    status=raw.status_code,
                    headers={k.lower(): v for k, v in raw.headers.items()},
                    content=content,
                    url=url,
                    elapsed=time.monotonic() - started,
                    history=history,
                )
        raise FetchError(f"too many redirects (more than {MAX_REDIRECTS})")
    finally:
        if own_session:
            http.close()


def _send(http, method, url, headers, data, json, timeout, trusted):
    """Check `url` (resolving its host once) and send the request to a checked address."""
    parse_url(url)
    try:
        prepared = http.prepare_request(
            requests.Request(method, url, headers=headers, data=data, json=json)
        )
    except requests.exceptions.InvalidJSONError as exc:
        raise FetchError(f"the body cannot be sent as JSON ({_reason(exc)})") from None
    except (requests.exceptions.RequestException, ValueError) as exc:
        raise InvalidURL(f"'{url[:200]}' is not a valid URL ({_reason(exc)})") from None
    # The URL requests will use (its host IDNA-encoded) is the one resolved and checked.
    try:
        prepared.checked_addresses = checked_addresses(prepared.url, trusted)
    except UnsafeURL:
        raise
    except FetchError as exc:  # the host does not resolve
        raise FetchError(f"connection failed: {exc}") from None
    try:
        return http.send(prepared, timeout=timeout, allow_redirects=False, stream=True)
    except requests.exceptions.Timeout:
        raise FetchError(f"timed out after {round(timeout, 1):g} s") from None
    except requests.exceptions.SSLError as exc:
        raise FetchError(f"TLS error: {_reason(exc)}") from None
    except requests.exceptions.ConnectionError as exc:
        raise FetchError(f"connection failed: {_reason(exc)}") from None
    except (
        requests.exceptions.InvalidURL,
        requests.exceptions.MissingSchema,
        requests.exceptions.InvalidSchema,
    ) as exc:
        raise InvalidURL(f"invalid URL: {exc}") from None
    except (requests.exceptions.RequestException, ValueError) as exc:
        raise FetchError(f"request failed: {_reason(exc)}") from None


def _within(timeout, deadline):
    """The wait allowed for the next step: `timeout`, or less when the deadline is nearer."""
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise FetchError("timed out (the whole exchange took too long)")
    return min(timeout, left)


def _read_capped(raw, max_bytes, timeout=DEFAULT_TIMEOUT, deadline=None, into=None):
    declared = raw.headers.get("content-length", "")
    if max_bytes is not None and declared.isdigit() and int(declared) > max_bytes:
        raise TooLarge(max_bytes)
    chunks, size = [], 0
    try:
        for chunk in _arriving(raw, timeout, deadline):
            size += len(chunk)
            if max_bytes is not None and size > max_bytes:
                raise TooLarge(max_bytes)
            if into is not None:
                into.write(chunk)
            else:
                chunks.append(chunk)
    except (TimeoutError, requests.exceptions.Timeout, urllib3.exceptions.TimeoutError):
        raise FetchError("timed out while reading the response") from None
    except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError) as exc:
        raise FetchError(f"reading the response failed: {_reason(exc)}") from None
    return b"".join(chunks)


def _arriving(raw, timeout, deadline):
    """The body in pieces as they arrive: read1 returns whatever has landed instead of waiting for
    a full chunk, and each wait for the next piece (or for the close) ends at the deadline."""
    while True:
        _wait_at_most(raw, _within(timeout, deadline) if deadline else timeout)
        chunk = raw.raw.read1(64 * 1024, decode_content=True)
        if not chunk:
            return
        yield chunk


def _wait_at_most(raw, seconds):
    """Let the next read from the response's socket wait `seconds` at most. The socket is the
    connection's while it may be kept alive; a response that ends at the close (no length) owns
    it alone, inside http.client's reader."""
    sock = getattr(getattr(raw.raw, "connection", None), "sock", None)
    if sock is None:
        reader = getattr(getattr(raw.raw, "_fp", None), "fp", None)
        sock = getattr(getattr(reader, "raw", None), "_sock", None)
    if sock is not None:
        sock.settimeout(seconds)
