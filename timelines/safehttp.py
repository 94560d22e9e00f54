"""The one seam for outbound HTTP to user-supplied URLs (outbound webhooks, file_url downloads,
WAHA). Nothing else calls `requests` directly.

Every request gets a timeout and our User-Agent, has its body read with a size cap while it
streams, and follows redirects itself so that each hop is checked again.

The guard (SPEC P4): a URL must parse (`parse_url`), and every address its host resolves to
must be public (`check_url`): loopback, private, link-local, CGNAT, multicast, reserved and
unspecified addresses are refused, also when a private IPv4 address hides inside an IPv6 one
(IPv4-mapped, IPv4-compatible, NAT64, 6to4, Teredo). The host is resolved ONCE per request and
the connection is made to an address that was checked (`_GuardedAdapter`), never to what a
second lookup might answer, while the host name still goes into the Host header, TLS SNI and the
certificate check. settings.ALLOW_PRIVATE_URLS (tests, local development) and the `trusted`
origins an operator names (a WAHA server on the same machine) lift the address check, not the
parsing nor the resolve-once rule.
"""

import http.cookiejar
import ipaddress
import re
import socket
import time
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from django.conf import settings
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util.connection import create_connection

USER_AGENT = "Timelines/1.0 (+https://github.com/timelines)"
DEFAULT_TIMEOUT = 10
MAX_REDIRECTS = 5


class FetchError(Exception):
    """The request could not be made or completed; the message says why, in plain words."""


class UnsafeURL(FetchError):
    """The URL is not http(s) or points at an address we must not reach."""


class InvalidURL(UnsafeURL):
    """The URL does not parse (or only parses in a spelling we refuse); the message says what is
    wrong. Retrying never helps."""


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


# -- Parsing ---------------------------------------------------------------------------------

_SPACE_OR_CONTROL = re.compile(r"[\x00-\x20\x7f\s]")
# A last label that is a number (decimal, octal or 0x-hex): the host is an IPv4 address in one
# of the spellings inet_aton accepts ("2130706433", "0x7f.1", "0177.0.0.1", "127.1"). No DNS name
# ends in a numeric label, so anything but the plain dotted-quad spelling is refused.
_SCHEME = re.compile(r"^\s*[a-z][a-z0-9+.-]*:", re.IGNORECASE)
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$", re.IGNORECASE)


def parse_url(url):
    """Return `url` unchanged if it is an http(s) URL that parses, with a host and a port from 1
    to 65535; raise InvalidURL saying what is wrong otherwise. Never raises anything else, never
    touches the network: the one check for "does this URL parse" everywhere a URL comes in."""
    if not isinstance(url, str) or not url:
        raise InvalidURL("the URL is empty")
    shown = url if len(url) <= 200 else url[:200] + "…"
    if not _SCHEME.match(url):
        # Not a URL at all (a word, a name, a bare host): say that, not what to encode.
        raise InvalidURL(f"'{shown}' is not an http(s) URL: it must start with http:// or https://")
    if _SPACE_OR_CONTROL.search(url):
        raise InvalidURL(
            f"{shown!r} contains spaces or control characters; percent-encode them (a space is %20)"
        )
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError as exc:
        raise InvalidURL(f"'{shown}' is not a valid URL ({exc})") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidURL(f"'{shown}' is not an http(s) URL")
    if not hostname:
        raise InvalidURL(f"'{shown}' has no host name")
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        raise InvalidURL(f"'{shown}' has an invalid port: a port is a number from 1 to 65535")
    if parts.netloc.rpartition("@")[2].startswith("["):
        try:
            if "%" in hostname:
                raise ValueError("zone id")
            ipaddress.IPv6Address(hostname)
        except ValueError:
            raise InvalidURL(
                f"'{shown}' has an invalid IPv6 address in brackets (zone ids are not accepted)"
            ) from None
    elif _NUMERIC_LABEL.match(hostname.rstrip(".").rpartition(".")[2]):
        try:
            ipaddress.IPv4Address(hostname)
        except ValueError:
            raise InvalidURL(
                f"'{shown}' has an IPv4 address in an unusual spelling; write it as four "
                "decimal numbers (a.b.c.d)"
            ) from None
    host = urlsplit(_as_requests_sends_it(url, shown)).hostname or ""
    labels = host.rstrip(".").split(".")
    if ":" not in host and (len(host) > 253 or not all(0 < len(label) <= 63 for label in labels)):
        raise InvalidURL(f"'{shown}' has an invalid host name (an empty or too long label)")
    return url


def _as_requests_sends_it(url, shown):
    """The URL as requests will send it (a non-ASCII host IDNA-encoded); InvalidURL where
    requests would refuse it."""
    prepared = requests.models.PreparedRequest()
    try:
        prepared.prepare_url(url, None)
    except (requests.exceptions.RequestException, ValueError) as exc:
        raise InvalidURL(f"'{shown}' is not a valid URL ({_reason(exc)})") from None
    return prepared.url


def origin(url):
    """'http://Host:80/x' -> 'http://host:80': what an operator names when trusting a server
    ('' for a URL that does not parse, which then matches nothing)."""
    try:
        parts = urlsplit(url)
        default = {"http": 80, "https": 443}.get(parts.scheme)
        return f"{parts.scheme}://{(parts.hostname or '').lower()}:{parts.port or default}"
    except ValueError:
        return ""


# -- Addresses -------------------------------------------------------------------------------

_net = ipaddress.ip_network
# IPv4 ranges never reachable as public servers (IANA special-purpose registry): "this network",
# private, CGNAT, loopback, link-local, IETF protocol assignments, documentation, the retired
# 6to4 relay anycast, benchmarking, multicast, reserved and broadcast.
_V4_REFUSED = [
    _net(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
    )
]
_V6_GLOBAL_UNICAST = _net("2000::/3")
# Inside 2000::/3 but not public servers: IETF protocol assignments (Teredo 2001::/32 among
# them), documentation, SRv6 SIDs.
_V6_REFUSED = [_net(n) for n in ("2001::/23", "2001:db8::/32", "3fff::/20", "5f00::/16")]
_V4_MAPPED = _net("::ffff:0:0/96")
_V4_COMPATIBLE = _net("::/96")
_NAT64 = _net("64:ff9b::/96")
_NAT64_LOCAL = _net("64:ff9b:1::/48")
_SIX_TO_FOUR = _net("2002::/16")
_TEREDO = _net("2001::/32")


def embedded_ipv4(ip):
    """The IPv4 address an IPv6 address carries and would reach: IPv4-mapped, IPv4-compatible,
    NAT64 (64:ff9b::/96), 6to4 (2002::/16, the gateway's address); None when it carries none we
    can name. (Teredo and local-use NAT64 are refused whole, see `_is_public`.)"""
    if ip.version != 6:
        return None
    value = int(ip)
    if ip in _V4_MAPPED or ip in _NAT64 or ip in _V4_COMPATIBLE:
        return ipaddress.IPv4Address(value & 0xFFFFFFFF)
    if ip in _SIX_TO_FOUR:
        return ipaddress.IPv4Address((value >> 80) & 0xFFFFFFFF)
    return None


def _is_public(ip):
    """True for an address a public server can have.

    IPv6 addresses that carry an IPv4 address are judged by that IPv4 address (NAT64 and mapped
    addresses are how IPv6-only hosts reach IPv4 servers, so a public one is fine), except:
    IPv4-compatible addresses (::a.b.c.d, deprecated, nothing routes them) and local-use NAT64
    (64:ff9b:1::/48, its IPv4 part sits wherever the operator chose) are refused whole, and so is
    Teredo (2001::/32): the client address is XOR-ed in and the packets go through a relay we do
    not know; Teredo relays are all but gone, so refusing it costs nothing.
    """
    if ip.version == 4:
        return not any(ip in net for net in _V4_REFUSED) and ip.is_global
    if ip.ipv4_mapped is not None or ip in _NAT64:
        return _is_public(embedded_ipv4(ip))
    if ip in _V4_COMPATIBLE or ip in _NAT64_LOCAL or ip in _TEREDO:
        return False
    if ip in _SIX_TO_FOUR and not _is_public(embedded_ipv4(ip)):
        return False
    if ip not in _V6_GLOBAL_UNICAST or any(ip in net for net in _V6_REFUSED):
        return False
    return ip.is_global and not ip.is_multicast


def _refused(host, ip):
    inner = embedded_ipv4(ip)
    if ip.version == 6 and ip in _TEREDO:
        note = " (a Teredo address)"
    elif inner is not None:
        note = f" (it carries the IPv4 address {inner})"
    else:
        note = ""
    said = f"{ip} is" if _literal(host) == ip else f"'{host}' resolves to {ip},"
    # One sentence for whoever typed the URL (an owner, an integrator): how an operator allows
    # local addresses (ALLOW_PRIVATE_URLS) is the operators' documentation's business.
    return UnsafeURL(
        f"{said} a private or reserved address{note}; only public addresses are allowed"
    )


def _literal(host):
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _private_allowed(url, trusted):
    return settings.ALLOW_PRIVATE_URLS or (
        bool(trusted) and origin(url) in {origin(t) for t in trusted}
    )


def _resolve(host, port):
    """Every address `host` resolves to, in the resolver's order, without duplicates."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError) as exc:
        raise FetchError(f"cannot resolve host '{host}' ({exc})") from None
    addresses = []
    for info in infos:
        if info[0] not in (socket.AF_INET, socket.AF_INET6):
            continue
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise FetchError(f"cannot resolve host '{host}' (no address)")
    return addresses


def checked_addresses(url, trusted=()):
    """Parse `url`, resolve its host once and check every address; return the addresses (the
    only ones a connection for this URL may go to). Raises InvalidURL, UnsafeURL or FetchError
    (the host does not resolve)."""
    parse_url(url)
    parts = urlsplit(_as_requests_sends_it(url, url[:200]))
    host = parts.hostname
    addresses = _resolve(host, parts.port or (443 if parts.scheme.lower() == "https" else 80))
    if not _private_allowed(url, trusted):
        for ip in addresses:
            if not _is_public(ip):
                raise _refused(host, ip)
    return tuple(str(ip) for ip in addresses)


def check_url(url, trusted=()):
    """Return `url` if a request to it would be made: it parses, and every address its host
    resolves to is public (or private addresses are allowed, globally or for the `trusted`
    origins the operator named, e.g. a WAHA server on the same machine). Raises InvalidURL (does
    not parse), UnsafeURL (refused address) or FetchError (the host does not resolve)."""
    parse_url(url)
    if not _private_allowed(url, trusted):
        checked_addresses(url, trusted)
    return url


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
