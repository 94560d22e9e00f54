"""P1: a few hundred hostile bodies and lying framings, over raw sockets, never get a 5xx —
through nginx, as deployed, and straight to gunicorn, as WAHA's events arrive.

What may come back:
- the app's answer: 200 in the success shape (the body happened to be valid), or a 4xx in the
  error shape of I6 — and for a framing that lies, exactly 400 or 413;
- nginx's own refusal, in the error shape of I6 too (deploy/nginx.conf's error pages);
- gunicorn's own 4xx page, for a request it refuses before the app sees it (a malformed
  header);
- no answer at all, only when the server gave up on the request before the app saw it (the
  app logged nothing for it).

nginx reads a chunked body itself and passes it on with a Content-Length, so two framings
gunicorn refuses (a space after a chunk size, bare LF line ends) are read, unambiguously, and
answered by the app.

Each case's outcome is written to tests/artifacts/production/hostile-requests-<front>.txt."""

import json
from dataclasses import dataclass, replace

import pytest

from tests.production.conftest import ARTIFACTS
from tests.production.helpers import direct_chat, exchange, new_probe, tenant

pytestmark = pytest.mark.production

KB = 1024


@dataclass
class Case:
    name: str
    headers: list  # (name, value) pairs, str or bytes, sent in this order
    body: bytes
    expect: str  # "refused": 400/413 (or gunicorn's own 4xx); "url": 400 naming file_url;
    # "answered": 200 success or a 4xx in the error shape
    method: str = "POST"
    path: str = ""
    behind_proxy: str = ""  # what to expect through nginx, when it differs


@pytest.fixture(scope="module")
def target(server, django_db_blocker):
    with django_db_blocker.unblock():
        shop = tenant("Hostile", credits=1_000_000)
        chat = direct_chat(shop.account, name="Hostile chat")
    return shop, chat


def valid_body(chat):
    return json.dumps({"action": "send", "chat_id": str(chat.chat_id), "text": "hi"}).encode()


def chunked(body, size=None):
    """`body` as one chunk (or chunks of `size` bytes), properly terminated."""
    size = size or len(body) or 1
    pieces = [body[n : n + size] for n in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


JSON = ("Content-Type", "application/json")
CHUNKED = ("Transfer-Encoding", "chunked")


def length(n):
    return ("Content-Length", str(n))


def framings(chat):
    """Lying or malformed framings around a valid body."""
    body = valid_body(chat)
    n = len(body)
    big = json.dumps({"action": "send", "chat_id": str(chat.chat_id), "text": "b" * 70 * KB})
    cases = [
        Case("Content-Length exact (control)", [JSON, length(n)], body, "answered"),
        Case("Content-Length 1 more than sent", [JSON, length(n + 1)], body, "refused"),
        Case("Content-Length 1000 more than sent", [JSON, length(n + 1000)], body, "refused"),
        Case("Content-Length 1 less than sent", [JSON, length(n - 1)], body, "refused"),
        Case("Content-Length 10 less than sent", [JSON, length(n - 10)], body, "refused"),
        Case("Content-Length 0 with a body", [JSON, length(0)], body, "refused"),
        Case("Content-Length 65537, short body", [JSON, length(64 * KB + 1)], body, "refused"),
        Case("Content-Length 2**31", [JSON, length(2**31)], body, "refused"),
        Case("Content-Length 2**63", [JSON, length(2**63)], body, "refused"),
        Case("Content-Length 99999999999999999999", [JSON, length(10**20 - 1)], body, "refused"),
        Case("Content-Length of 400 digits", [JSON, length("9" * 400)], body, "refused"),
        Case("Content-Length -1", [JSON, length(-1)], body, "refused"),
        Case("Content-Length abc", [JSON, length("abc")], body, "refused"),
        Case("Content-Length 1e3", [JSON, length("1e3")], body, "refused"),
        Case("Content-Length +40", [JSON, length(f"+{n}")], body, "refused"),
        Case("Content-Length 0x40", [JSON, length("0x40")], body, "refused"),
        Case("Content-Length n, n", [JSON, length(f"{n}, {n}")], body, "refused"),
        Case("two different Content-Lengths", [JSON, length(n), length(n + 5)], body, "refused"),
        Case("two equal Content-Lengths", [JSON, length(n), length(n)], body, "refused"),
        Case("Content-Length and chunked", [JSON, length(n), CHUNKED], chunked(body), "refused"),
        Case("no Content-Length, body follows", [JSON], body, "refused"),
        Case("chunked (control)", [JSON, CHUNKED], chunked(body), "answered"),
        Case("chunked, a byte per chunk", [JSON, CHUNKED], chunked(body, 1), "answered"),
        Case(
            "chunked, with extensions",
            [JSON, CHUNKED],
            b"%x;a=b\r\n%s\r\n0\r\n\r\n" % (n, body),
            "answered",
        ),
        Case(
            "chunked, with a trailer",
            [JSON, CHUNKED],
            chunked(body)[:-2] + b"X-T: 1\r\n\r\n",
            "answered",
        ),
        Case("chunked, 70 KB", [JSON, CHUNKED], chunked(big.encode(), 4 * KB), "refused"),
        Case("chunked, empty", [JSON, CHUNKED], b"0\r\n\r\n", "refused"),
        Case("chunked, size zz", [JSON, CHUNKED], b"zz\r\n" + body + b"\r\n0\r\n\r\n", "refused"),
        Case("chunked, size -5", [JSON, CHUNKED], b"-5\r\nhello\r\n0\r\n\r\n", "refused"),
        Case(
            "chunked, size 0x10",
            [JSON, CHUNKED],
            b"0x10\r\n" + body[:16] + b"\r\n0\r\n\r\n",
            "refused",
        ),
        Case("chunked, size of 30 f's", [JSON, CHUNKED], b"f" * 30 + b"\r\n" + body, "refused"),
        Case(
            "chunked, size of 400 digits", [JSON, CHUNKED], b"1" * 400 + b"\r\n" + body, "refused"
        ),
        Case(
            "chunked, size with a space",
            [JSON, CHUNKED],
            b"%x \r\n%s\r\n0\r\n\r\n" % (n, body),
            "refused",
            behind_proxy="answered",
        ),
        Case(
            "chunked, size says more than sent",
            [JSON, CHUNKED],
            b"%x\r\n%s" % (n + 50, body),
            "refused",
        ),
        Case(
            "chunked, truncated inside a chunk",
            [JSON, CHUNKED],
            b"%x\r\n%s" % (n, body[:5]),
            "refused",
        ),
        Case("chunked, no last chunk", [JSON, CHUNKED], b"%x\r\n%s\r\n" % (n, body), "refused"),
        Case(
            "chunked, last chunk without final CRLF",
            [JSON, CHUNKED],
            b"%x\r\n%s\r\n0\r\n" % (n, body),
            "refused",
        ),
        Case(
            "chunked, data without its CRLF",
            [JSON, CHUNKED],
            b"%x\r\n%s0\r\n\r\n" % (n, body),
            "refused",
        ),
        Case(
            "chunked, data longer than its size",
            [JSON, CHUNKED],
            b"%x\r\n%sEXTRA\r\n0\r\n\r\n" % (n, body),
            "refused",
        ),
        Case(
            "chunked, bare LF",
            [JSON, CHUNKED],
            b"%x\n%s\n0\n\n" % (n, body),
            "refused",
            behind_proxy="answered",
        ),
        Case("chunked, size line only", [JSON, CHUNKED], b"%x" % n, "refused"),
        Case("chunked, nothing at all", [JSON, CHUNKED], b"", "refused"),
        Case(
            "Transfer-Encoding: Chunked",
            [JSON, ("Transfer-Encoding", "Chunked")],
            chunked(body),
            "answered",
        ),
        Case("Transfer-Encoding twice", [JSON, CHUNKED, CHUNKED], chunked(body), "refused"),
        Case(
            "Transfer-Encoding: identity",
            [JSON, ("Transfer-Encoding", "identity"), length(n)],
            body,
            "refused",
        ),
        Case(
            "Expect: 100-continue", [JSON, length(n), ("Expect", "100-continue")], body, "answered"
        ),
        Case("a header of 9 KB", [JSON, length(n), ("X-Big", "x" * 9 * KB)], body, "refused"),
        Case(
            "200 headers",
            [JSON, length(n), *[(f"X-H{i}", "v") for i in range(200)]],
            body,
            "refused",
        ),
        Case("NUL in a header", [JSON, length(n), ("X-Nul", "a\x00b")], body, "refused"),
        Case(
            "bytes > 0x7f in Idempotency-Key",
            [JSON, length(n), ("Idempotency-Key", b"\xff\xfe")],
            body,
            "answered",
        ),
        Case(
            "Idempotency-Key of 8 KB",
            [JSON, length(n), ("Idempotency-Key", "k" * 8000)],
            body,
            "answered",
        ),
        Case(
            "a second request pipelined after it",
            [JSON, length(n)],
            body + b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
            "answered",
        ),
    ]
    return cases


def bodies(chat):
    """Hostile bodies: (name, bytes, expect), each sent framed both ways."""
    base = {"action": "send", "chat_id": str(chat.chat_id), "text": "hostile"}

    def with_(**fields):
        return json.dumps({**base, **fields}).encode()

    def file(url):
        return json.dumps({**base, "file_url": url, "file_name": "a.pdf"}).encode()

    unparsable_urls = [
        "http://[::1",
        "http://[::1]:99999/a.pdf",
        "http://example.com:99999/a.pdf",
        "https://example.com:65536/a.pdf",
        "http://example.com:-1/a.pdf",
        "http://example.com:port/a.pdf",
        "http://[not-an-ip]/a.pdf",
        "http://[fe80::1%zz/a.pdf",
        "http://]/a.pdf",
    ]
    odd_urls = [
        "http://",
        "ftp://example.com/a.pdf",
        "javascript:alert(1)",
        "http://exa mple.com/a.pdf",
        "http://example.com/" + "a" * 5000,
        "http://\u0000/a.pdf",
        "http://user:pass@/a.pdf",
        "http://[::ffff:127.0.0.1]/a.pdf",
        "//example.com/a.pdf",
        "",
    ]
    cases = [(f"file_url {u[:40]!r}", file(u), "url") for u in unparsable_urls]
    cases += [(f"file_url {u[:40]!r}", file(u), "answered") for u in odd_urls]
    cases += [
        ("empty", b"", "answered"),
        ("whitespace", b" \r\n\t ", "answered"),
        ("{", b"{", "answered"),
        ("[]", b"[]", "answered"),
        ("null", b"null", "answered"),
        ("a number", b"42", "answered"),
        ("a string", b'"send"', "answered"),
        ("the seed's missing comma", b'{"action": "send" "text": "x"}', "answered"),
        ("NaN", with_(text=float("nan")), "answered"),
        ("Infinity chat_id", b'{"action": "send", "chat_id": Infinity, "text": "x"}', "answered"),
        ("1e999 chat_id", b'{"action": "send", "chat_id": 1e999, "text": "x"}', "answered"),
        ("chat_id 10**30", with_(chat_id=10**30), "answered"),
        ("chat_id '10**30'", with_(chat_id=str(10**30)), "answered"),
        ("chat_id 2**63", with_(chat_id=str(2**63)), "answered"),
        ("chat_id -1", with_(chat_id=-1), "answered"),
        ("chat_id 0", with_(chat_id="0"), "answered"),
        ("chat_id 1.5", with_(chat_id=1.5), "answered"),
        ("chat_id true", with_(chat_id=True), "answered"),
        ("chat_id a list", with_(chat_id=[1]), "answered"),
        (
            "chat_id of 5000 digits",
            b'{"action": "send", "chat_id": ' + b"9" * 5000 + b"}",
            "answered",
        ),
        (
            "text a number of 5000 digits",
            b'{"action": "send", "text": ' + b"7" * 5000 + b"}",
            "answered",
        ),
        ("deep arrays", b"[" * 30000 + b"]" * 30000, "answered"),
        ("deep objects", b'{"a":' * 10000 + b"1" + b"}" * 10000, "answered"),
        (
            "deep in text",
            with_()[:-1] + b', "x": ' + b"[" * 20000 + b"]" * 20000 + b"}",
            "answered",
        ),
        ("many keys", json.dumps({f"k{i}": i for i in range(5000)}).encode(), "answered"),
        (
            "duplicate keys",
            b'{"action": "send", "action": "nope", "chat_id": "1", "text": "x"}',
            "answered",
        ),
        (
            "invalid UTF-8",
            b'{"action": "send", "chat_id": "1", "text": "\xff\xfe\xc3("}',
            "answered",
        ),
        ("UTF-8 BOM", b"\xef\xbb\xbf" + with_(), "answered"),
        ("UTF-16", with_().decode().encode("utf-16"), "answered"),
        ("lone surrogate", b'{"action": "send", "chat_id": "1", "text": "\\ud800"}', "answered"),
        ("NUL in text", with_(text="a\u0000b"), "answered"),
        (
            "NUL in chat_name",
            json.dumps({"action": "send", "chat_name": "a\u0000", "text": "x"}).encode(),
            "answered",
        ),
        (
            "NUL in phone",
            json.dumps({"action": "send", "phone": "+1415\u00001231234", "text": "x"}).encode(),
            "answered",
        ),
        (
            "phone of 500 digits",
            json.dumps({"action": "send", "phone": "+" + "1" * 500, "text": "x"}).encode(),
            "answered",
        ),
        (
            "phone a number",
            json.dumps({"action": "send", "phone": 14151231234, "text": "x"}).encode(),
            "answered",
        ),
        (
            "jid junk",
            json.dumps({"action": "send", "jid": "@@@s.whatsapp.net", "text": "x"}).encode(),
            "answered",
        ),
        (
            "jid a dict",
            json.dumps({"action": "send", "jid": {"a": 1}, "text": "x"}).encode(),
            "answered",
        ),
        (
            "chat_name 40 KB",
            json.dumps({"action": "send", "chat_name": "n" * 40 * KB, "text": "x"}).encode(),
            "answered",
        ),
        ("account phone junk", with_(whatsapp_account_phone="+0000"), "answered"),
        ("account phone a dict", with_(whatsapp_account_phone={"x": 1}), "answered"),
        (
            "account phone with spaces key junk",
            with_(**{"whatsapp account phone": [1]}),
            "answered",
        ),
        ("action a list", with_(action=["send"]), "answered"),
        ("action other", with_(action="delete"), "answered"),
        ("text a dict", with_(text={"a": 1}), "answered"),
        ("text 60 KB", with_(text="t" * 60 * KB), "answered"),
        ("text of emoji and RTL", with_(text="\U0001f600\u202e\u200d" * 500), "answered"),
        ("file_name without file_url", with_(file_name="../../etc/passwd"), "answered"),
        (
            "file_name a path",
            json.dumps(
                {**base, "file_url": "https://example.com/a", "file_name": "../../../etc/passwd"}
            ).encode(),
            "answered",
        ),
        ("file_url a number", with_(file_url=12, file_name="a"), "answered"),
        ("65 KB of spaces", b" " * 65 * KB, "answered"),
    ]
    return cases


def wire(case, path, probe):
    head = [
        f"{case.method} {case.path or path} HTTP/1.1".encode(),
        b"Host: 127.0.0.1",
        f"X-Probe: {probe}".encode(),
    ]
    for name, value in case.headers:
        value = value if isinstance(value, bytes) else str(value).encode("latin-1")
        head.append(name.encode() + b": " + value)
    return b"\r\n".join(head) + b"\r\n\r\n" + case.body


def all_cases(shop, chat):
    cases = framings(chat)
    for name, body, expect in bodies(chat):
        cases.append(Case(f"{name} [Content-Length]", [JSON, length(len(body))], body, expect))
        cases.append(Case(f"{name} [chunked]", [JSON, CHUNKED], chunked(body, 1000), expect))
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=zz",
        "application/json; charset=latin-1",
        "application/xml",
        "*/*",
        "",
    ]:
        header = [("Content-Type", content_type)] if content_type else []
        body = valid_body(chat)
        cases.append(
            Case(f"Content-Type {content_type!r}", [*header, length(len(body))], body, "answered")
        )
    form = f"action=send&chat_id={chat.chat_id}&text=form".encode()
    cases.append(
        Case(
            "a form body",
            [("Content-Type", "application/x-www-form-urlencoded"), length(len(form))],
            form,
            "answered",
        )
    )
    junk_multipart = b'--zz\r\nContent-Disposition: form-data; name="a"\r\n\r\nb\r\n--z'
    cases.append(
        Case(
            "broken multipart",
            [("Content-Type", "multipart/form-data; boundary=zz"), length(len(junk_multipart))],
            junk_multipart,
            "answered",
        )
    )
    for method in ["GET", "PUT", "PATCH", "DELETE", "OPTIONS"]:
        cases.append(Case(f"{method} on the endpoint", [length(0)], b"", "answered", method))
    for path in [
        "/webhooks/inbound/nope/",
        "/webhooks/inbound/%00/",
        "/webhooks/inbound/" + "t" * 3000 + "/",
        "/webhooks/inbound/%ff%fe/",
        shop.path + "messages/%00/",
    ]:
        body = valid_body(chat)
        cases.append(
            Case(f"path {path[:40]}", [JSON, length(len(body))], body, "answered", path=path)
        )
    return cases


def judge(case, reply, reached_app, front):
    """'' when the outcome is acceptable for the case, else what is wrong."""
    if front == "proxy" and case.behind_proxy:
        case = replace(case, expect=case.behind_proxy)
    status = reply.status
    if status is None:
        if reply.timed_out:
            return "no answer within 10 s"
        return "closed without answer after the app saw it" if reached_app else ""
    if status >= 500:
        return f"{status}"
    if not reached_app:  # gunicorn's own page: a 4xx for what it refused
        return "" if case.expect == "refused" and 400 <= status < 500 else f"server {status}"
    try:
        body = json.loads(reply.body)
    except ValueError:
        return f"{status} not JSON" if case.path == "" else ""
    if case.path and status == 404:
        return ""
    if status == 200:
        ok = body.get("status") == "success" and case.expect == "answered"
        return "" if ok else "200"
    shaped = set(body) == {"status", "data", "message"} and body["status"] == status
    if not shaped or body["data"] != {}:
        return f"{status} not in the error shape"
    if case.expect == "refused" and status not in (400, 413):
        return f"{status} (a lying framing is 400 or 413)"
    if case.expect == "url" and (status != 400 or "file_url" not in body["message"]):
        return f"{status} {body['message'][:60]!r} (400 naming file_url expected)"
    return ""


@pytest.mark.parametrize("front", ["proxy", "gunicorn"])
def test_it_never_answers_a_hostile_request_with_a_5xx(server, target, front):
    shop, chat = target
    cases = all_cases(shop, chat)
    assert len(cases) >= 200
    port = server.port if front == "proxy" else server.direct_port
    since = server.error_log_size()
    rows, wrong = [], []
    for case in cases:
        probe = new_probe("hostile")
        reply = exchange(server, wire(case, shop.path, probe), port=port)
        reached_app = _answered_by_app(reply) if reply.status else _logged(server, probe)
        problem = judge(case, reply, reached_app, front)
        who = "app" if reached_app else "server"
        rows.append(f"{case.name[:70]:72} {who:9} {reply.outcome():22} {problem}")
        if problem:
            wrong.append(rows[-1])
    (ARTIFACTS / f"hostile-requests-{front}.txt").write_text("\n".join(rows) + "\n")
    assert not wrong, f"{len(wrong)} of {len(cases)} cases answered wrongly:\n" + "\n".join(
        wrong[:60]
    )
    assert "Error handling request" not in server.error_text(since)


def _logged(server, probe):
    try:
        server.worker_of(probe, timeout=0.5)
        return True
    except AssertionError:
        return False


def _answered_by_app(reply):
    """gunicorn's own error pages are small HTML documents; everything else is the app's."""
    return reply.status is not None and b"<h1><p>" not in reply.body
