"""P1 beyond the inbound endpoint: the owner's pages (signed in over HTTP, CSRF token and all)
and the WAHA events URL answer bad input with a form error or a 4xx, never a 5xx."""

import hashlib
import hmac
import json
import re

import pytest
import requests

from tests.production.helpers import direct_chat, new_probe, tenant
from whatsapp.models import Account, WahaConnection

pytestmark = pytest.mark.production

UNPARSABLE_URLS = ["http://[::1", "http://example.com:99999/hook", "http://[::1]:99999/"]


@pytest.fixture(scope="module")
def owner(server, django_db_blocker):
    with django_db_blocker.unblock():
        shop = tenant("Pages", credits=10)
        direct_chat(shop.account, name="Page chat")
    return shop


class Browser:
    """A requests session signed in through the login form, as a person's browser would be."""

    def __init__(self, server, shop):
        self.base, self.session = server.base, requests.Session()
        self.answers = []
        form = self.get("/accounts/login/")
        answer = self.post_form(
            "/accounts/login/",
            form,
            {"username": shop.owner.username, "password": shop.password},
            allow_redirects=False,
        )
        assert answer.status_code == 302, answer.text[:500]
        assert "sessionid" in self.session.cookies

    def get(self, path, **kwargs):
        answer = self.session.get(self.base + path, headers=self._probe(), timeout=30, **kwargs)
        self.answers.append((f"GET {path}", answer.status_code))
        return answer

    def post_form(self, path, page, data, **kwargs):
        """POST `data` with the CSRF token of `page` (the form it was typed into)."""
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert token, f"no CSRF token on {page.url}"
        answer = self.session.post(
            self.base + path,
            data={"csrfmiddlewaretoken": token[1], **data},
            headers={"Referer": page.url, **self._probe()},
            timeout=30,
            **kwargs,
        )
        self.answers.append((f"POST {path} {data}", answer.status_code))
        return answer

    @staticmethod
    def _probe():
        return {"X-Probe": new_probe("page")}


def test_it_answers_bad_input_on_the_owners_pages_without_a_5xx(server, owner):
    browser = Browser(server, owner)
    ws = owner.workspace.pk
    outbound = f"/w/{ws}/integrations/outbound/"
    refused = {}
    for url in UNPARSABLE_URLS:
        page = browser.get(outbound)
        answer = browser.post_form(
            outbound, page, {"url": url, "granularity": "0", "enabled": "on"}
        )
        refused[f"outbound url {url}"] = answer.status_code == 400 and "not saved" in answer.text
    page = browser.get(outbound)
    browser.post_form(outbound, page, {"url": "https://example.com/", "granularity": "banana"})
    connect = f"/w/{ws}/accounts/connect/"
    for url in UNPARSABLE_URLS:
        page = browser.get(connect)
        answer = browser.post_form(connect, page, {"base_url": url, "session": "default"})
        refused[f"WAHA base_url {url}"] = answer.status_code < 500 and "errorlist" in answer.text
    page = browser.get(f"/w/{ws}/integrations/inbound/")
    browser.post_form(f"/w/{ws}/integrations/inbound/enabled/", page, {"enabled": "\x00" * 50})
    browser.get(f"/w/{ws}/chats/?page=-1")
    browser.get(f"/w/{ws}/chats/?page=99999999999999999999999")
    browser.get(f"/w/{ws}/chats/?page=%00")
    browser.get("/chat/99999999999999999999/messages/")
    browser.get("/chat/1/messages/?around=%00&page=x")
    browser.get("/chat/1/statuses/?ids=%00,wa_%00x,")
    browser.get(f"/w/{ws}/integrations/inbound/log/")
    browser.get(f"/w/{ws + 100000}/integrations/outbound/")
    browser.get(f"/w/{ws}/credits/?page=abc")
    fives = [a for a in browser.answers if a[1] >= 500]
    assert not fives, "5xx:\n" + "\n".join(map(str, fives))
    assert all(refused.values()), refused  # each with a form error saying what is wrong


@pytest.fixture(scope="module")
def waha(owner, django_db_blocker):
    """A WAHA connection linked to an account of the workspace; WAHA itself is not running
    (127.0.0.1:9 refuses), which no event handled here needs."""
    with django_db_blocker.unblock():
        connection = WahaConnection.objects.create(
            workspace=owner.workspace, base_url="http://127.0.0.1:9", created_by=owner.owner
        )
        connection.link("+15105569999")
        Account.objects.filter(pk=connection.account_id).update(transport="waha")
        connection.refresh_from_db()
    return connection


def event(kind, payload, session="default"):
    return {
        "id": "evt_1",
        "timestamp": 1700000000000,
        "event": kind,
        "session": session,
        "me": {"id": "15105569999@c.us"},
        "payload": payload,
    }


def message(**fields):
    return {
        "id": "false_14151231234@c.us_AAAA",
        "timestamp": 1700000000,
        "from": "14151231234@c.us",
        "fromMe": False,
        "body": "hi",
        "hasMedia": False,
        **fields,
    }


def test_it_answers_bad_waha_events_without_a_5xx(server, waha):
    url = f"{server.base}/whatsapp/waha/{waha.secret}/"

    def send(body, sign=True):
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"Content-Type": "application/json", "X-Probe": new_probe("waha")}
        if sign:
            headers["X-Webhook-Hmac"] = hmac.new(
                waha.hmac_key.encode(), raw, hashlib.sha512
            ).hexdigest()
            headers["X-Webhook-Hmac-Algorithm"] = "sha512"
        return requests.post(url, data=raw, headers=headers, timeout=30).status_code

    junk = [b"", b"{", b"\xff\xfe", b"[" * 30000 + b"]" * 30000, b"null", b'"x"', b"1e999"]
    answers = {f"junk {body[:12]!r}": send(body) for body in junk}
    for n, media_url in enumerate(UNPARSABLE_URLS):
        for named in (True, False):
            media = {
                "url": media_url,
                "mimetype": "image/png",
                **({"filename": "a"} if named else {}),
            }
            key = f"false_14151231234@c.us_M{n}{named}"
            answers[f"media url {media_url!r}{' and a name' * named}"] = send(
                event("message.any", message(id=key, hasMedia=True, media=media))
            )
    answers.update(
        {
            "unsigned": send(event("message.any", message()), sign=False),
            "payload a list": send(event("message.any", [1, 2])),
            "id a number": send(event("message.any", message(id=12))),
            "from junk": send(event("message.any", message(id="false_x@c.us_B", **{"from": "@@"}))),
            "timestamp huge": send(
                event("message.any", message(id="false_1@c.us_C", timestamp=10**30))
            ),
            "timestamp a string": send(
                event("message.any", message(id="false_1@c.us_D", timestamp="soon"))
            ),
            "ack junk": send(event("message.ack", {"id": {"a": 1}, "ack": "x", "ackName": 7})),
            "ack huge": send(event("message.ack", {"id": "true_1@c.us_E", "ack": 10**30})),
            "status junk": send(event("session.status", {"status": {"x": 1}})),
            "status unknown": send(event("session.status", {"status": "PASSKEY_" + "X" * 300})),
            "event unknown": send(event("no.such.event", {})),
            "wrong secret": requests.post(
                url.replace(waha.secret, "nope"), data=b"{}", timeout=30
            ).status_code,
        }
    )
    fives = {name: s for name, s in answers.items() if s >= 500}
    assert not fives, f"5xx: {fives}\nall answers: {answers}"
