"""P4: the guard on user-supplied URLs refuses every spelling of a private address, including
private IPv4 hidden inside IPv6, and accepts public ones. No test here sends a packet: names are
answered by a fake resolver and every socket connect is intercepted."""

import ipaddress
import socket

import pytest

from timelines import safehttp, urlguard

# Every form that reaches loopback, private, link-local, CGNAT, multicast, reserved or unspecified.
DISGUISED = [
    # IPv4-compatible ::a.b.c.d
    "::127.0.0.1",
    "::7f00:1",
    "::10.0.0.1",
    "::169.254.169.254",
    # IPv4-mapped ::ffff:a.b.c.d
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "::ffff:100.64.0.1",
    "::ffff:0.0.0.0",
    # NAT64, well-known prefix 64:ff9b::/96: judged by the IPv4 address it carries
    "64:ff9b::7f00:1",
    "64:ff9b::a9fe:a9fe",
    "64:ff9b::a00:1",
    "64:ff9b::c0a8:101",
    "64:ff9b::6440:1",
    "64:ff9b::e000:1",
    # NAT64, local-use prefix 64:ff9b:1::/48: refused whole
    "64:ff9b:1::7f00:1",
    "64:ff9b:1::808:808",
    # 6to4 2002::/16: the gateway's IPv4 address in bits 16-48
    "2002:7f00:1::1",
    "2002:a00:1::1",
    "2002:c0a8:101::1",
    "2002:a9fe:a9fe::1",
    "2002:6440:1::1",
    "2002:e000:1::1",
    # Teredo 2001::/32: refused whole
    "2001::1",
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",
    "2001:0:4136:e378:8000:63bf:80ff:fffe",  # client 127.0.0.1, XOR-ed
    # plain IPv6
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fd12:3456::1",
    "fec0::1",
    "ff02::1",
    "ff0e::1",
    "2001:db8::1",
    "100::1",
    # plain IPv4
    "127.0.0.1",
    "127.255.255.254",
    "10.0.0.1",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "100.127.255.254",
    "0.0.0.0",
    "0.1.2.3",
    "192.0.0.1",
    "192.0.2.1",
    "198.18.0.1",
    "198.51.100.1",
    "203.0.113.1",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
]

PUBLIC = [
    "8.8.8.8",
    "1.1.1.1",
    "93.184.215.14",
    "100.128.0.1",  # just past CGNAT
    "172.32.0.1",  # just past 172.16/12
    "2606:4700:4700::1111",
    "2a00:1450:4001:82a::200e",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",  # NAT64 to a public server: how IPv6-only hosts reach IPv4 ones
    "2002:808:808::1",
]

# IPv4 in the spellings inet_aton (and so requests, through getaddrinfo) accepts.
ODD_SPELLINGS = [
    "2130706433",
    "0x7f000001",
    "0x7f.1",
    "0x7f.0.0.1",
    "0177.0.0.1",
    "017700000001",
    "127.1",
    "127.0.1",
    "10.1",
    "0",
    "127.000.000.001",
    "127.0.0.1.",
]


def url_of(address):
    return f"http://[{address}]/x" if ":" in address else f"http://{address}/x"


@pytest.fixture
def guarded(settings):
    settings.ALLOW_PRIVATE_URLS = False


@pytest.fixture
def connects(monkeypatch):
    """Every socket connect attempted, refused before a packet leaves."""
    attempts = []

    def connect(sock, address):
        attempts.append(address)
        raise ConnectionRefusedError("intercepted by the test")

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect)
    return attempts


@pytest.fixture
def resolver(monkeypatch):
    """A fake DNS: names -> addresses set by the test; any other name is an error (no real
    lookups); IP literals resolve to themselves as in getaddrinfo."""
    answers = {}
    asked = []

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        asked.append(host)
        try:
            addresses = answers[host]
        except KeyError:
            ipaddress.ip_address(host)  # a literal, else ValueError: no real lookups here
            addresses = [host]
        if callable(addresses):
            addresses = addresses()
        result = []
        for address in addresses:
            ip = ipaddress.ip_address(address)
            family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
            sockaddr = (str(ip), port, 0, 0) if ip.version == 6 else (str(ip), port)
            result.append((family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr))
        return result

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    getaddrinfo.answers, getaddrinfo.asked = answers, asked
    return getaddrinfo


@pytest.mark.parametrize("address", DISGUISED)
def test_it_refuses_every_disguised_private_address_as_a_literal(
    address, guarded, resolver, connects
):
    with pytest.raises(safehttp.UnsafeURL, match="private or reserved address") as refused:
        safehttp.check_url(url_of(address))
    assert not isinstance(refused.value, safehttp.InvalidURL)
    with pytest.raises(safehttp.UnsafeURL, match="private or reserved address"):
        safehttp.request("GET", url_of(address))
    assert connects == []


@pytest.mark.parametrize("address", DISGUISED)
def test_it_refuses_a_name_that_resolves_to_a_disguised_private_address(
    address, guarded, resolver, connects
):
    resolver.answers["files.example.com"] = [address]
    with pytest.raises(safehttp.UnsafeURL, match="'files.example.com' resolves to"):
        safehttp.request("GET", "https://files.example.com/report.pdf")
    assert connects == []


def test_it_names_the_ipv4_address_hidden_in_an_ipv6_one(guarded, resolver):
    with pytest.raises(safehttp.UnsafeURL, match=r"carries the IPv4 address 169\.254\.169\.254"):
        safehttp.check_url("http://[64:ff9b::a9fe:a9fe]/latest/meta-data/")
    with pytest.raises(safehttp.UnsafeURL, match="Teredo"):
        safehttp.check_url("http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/")


def test_it_refuses_a_name_when_any_of_its_addresses_is_private(guarded, resolver, connects):
    resolver.answers["mixed.example.com"] = ["93.184.215.14", "::ffff:127.0.0.1"]
    with pytest.raises(safehttp.UnsafeURL, match="::ffff:7f00:1"):
        safehttp.request("GET", "http://mixed.example.com/")
    assert connects == []


@pytest.mark.parametrize("host", ODD_SPELLINGS)
def test_it_refuses_ipv4_addresses_in_odd_spellings(host, guarded, resolver, connects, settings):
    for allowed in (False, True):  # a spelling problem, refused even where private is allowed
        settings.ALLOW_PRIVATE_URLS = allowed
        with pytest.raises(safehttp.InvalidURL, match="four decimal numbers"):
            safehttp.check_url(f"http://{host}:8080/x")
        with pytest.raises(safehttp.InvalidURL):
            safehttp.request("GET", f"http://{host}/x")
    assert connects == [] and resolver.asked == []


def test_the_odd_spellings_are_ones_the_resolver_would_take_for_loopback():
    # Why they are refused: the C library reads them as addresses (here without any DNS).
    assert socket.inet_aton("0x7f.1") == socket.inet_aton("127.0.0.1")
    assert socket.inet_aton("2130706433") == socket.inet_aton("127.0.0.1")
    assert socket.inet_aton("0177.0.0.1") == socket.inet_aton("127.0.0.1")


@pytest.mark.parametrize("address", PUBLIC)
def test_it_accepts_public_addresses(address, guarded, resolver):
    assert urlguard._is_public(ipaddress.ip_address(address))
    assert safehttp.check_url(url_of(address)) == url_of(address)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/hook",
        "https://api.example.org:8443/v1/hooks?x=1",
        "http://hooks.example.net/a/b%20c.pdf",
        "https://bücher.example/file.pdf",
        "https://user:secret@example.com/hook",
        "https://1password.example/",  # a numeric first label is a name
        "https://example.123abc/",
    ],
)
def test_it_accepts_ordinary_public_names(url, guarded, resolver):
    resolver.answers.update(
        {
            "example.com": ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
            "api.example.org": ["93.184.215.15"],
            "hooks.example.net": ["2a00:1450:4001:82a::200e"],
            "xn--bcher-kva.example": ["93.184.215.16"],
            "1password.example": ["93.184.215.17"],
            "example.123abc": ["93.184.215.18"],
        }
    )
    assert safehttp.check_url(url) == url


def test_it_resolves_a_name_once_per_request_and_connects_to_that_answer(
    guarded, resolver, connects
):
    resolver.answers["hooks.example.net"] = ["2a00:1450:4001:82a::200e", "93.184.215.14"]
    with pytest.raises(safehttp.FetchError, match="connection failed"):
        safehttp.request("POST", "https://hooks.example.net:8443/in", json={"a": 1})
    assert resolver.asked.count("hooks.example.net") == 1
    # Both checked addresses tried in the resolver's order, nothing else.
    assert [a[:2] for a in connects] == [
        ("2a00:1450:4001:82a::200e", 8443),
        ("93.184.215.14", 8443),
    ]


def test_it_lets_private_addresses_through_when_allowed(settings, resolver, connects):
    settings.ALLOW_PRIVATE_URLS = True
    for address in ("127.0.0.1", "::ffff:127.0.0.1", "64:ff9b::7f00:1"):
        assert safehttp.check_url(url_of(address))
    resolver.answers["waha.internal"] = ["10.0.0.5"]
    with pytest.raises(safehttp.FetchError, match="connection failed"):
        safehttp.request("GET", "http://waha.internal:3000/api/sessions")
    assert [a[:2] for a in connects] == [("10.0.0.5", 3000)]


def test_it_lets_a_trusted_origin_be_private_and_nothing_else(guarded, resolver, connects):
    trusted = ["http://127.0.0.1:3000"]
    assert safehttp.check_url("http://127.0.0.1:3000/api", trusted)
    for url in ("http://127.0.0.1:3001/api", "http://[::ffff:127.0.0.1]:3000/api"):
        with pytest.raises(safehttp.UnsafeURL):
            safehttp.check_url(url, trusted)


def test_a_request_that_skipped_the_check_is_not_sent(guarded, connects):
    import requests

    session = safehttp.new_session()
    with pytest.raises(requests.exceptions.InvalidURL, match="not checked"):
        session.get("http://93.184.215.14/")
    assert connects == []
