"""The address guard of outbound HTTP (SPEC P4), used by timelines.safehttp, the one seam for
outbound requests: a URL must parse (`parse_url`), and every address its host resolves to must be
public (`check_url`): loopback, private, link-local, CGNAT, multicast, reserved and unspecified
addresses are refused, also when a private IPv4 address hides inside an IPv6 one (IPv4-mapped,
IPv4-compatible, NAT64, 6to4, Teredo). settings.ALLOW_PRIVATE_URLS (tests, local development)
and the `trusted` origins an operator names (a WAHA server on the same machine) lift the address
check, not the parsing. Nothing here touches the network but the one lookup (`_resolve`).
"""

import ipaddress
import re
import socket
from urllib.parse import urlsplit

import requests
from django.conf import settings


class FetchError(Exception):
    """The request could not be made or completed; the message says why, in plain words."""


class UnsafeURL(FetchError):
    """The URL is not http(s) or points at an address we must not reach."""


class InvalidURL(UnsafeURL):
    """The URL does not parse (or only parses in a spelling we refuse); the message says what is
    wrong. Retrying never helps."""


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
        raise InvalidURL(f"'{shown}' is not a valid URL ({reason_of(exc)})") from None
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


def reason_of(exc):
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
