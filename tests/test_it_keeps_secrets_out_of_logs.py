"""SPEC P6: inbound URL tokens, WAHA events URL secrets, attachment-link tokens and API tokens
never reach a log line, in either LOG_FORMAT: the first 6 hex characters of the secret's SHA-256
stand in for it (and the stored digests start with them, so an operator can tell which one).
gunicorn's logs: test_it_gunicorn_logs.py; a whole production-shape run:
tests/production/test_secrets_stay_out_of_logs.py."""

import io
import json
import logging

import pytest

from tests.inbound_helpers import post
from timelines.logconfig import JsonFormatter, TextFormatter, fingerprint, redact
from webhooks.endpoints.models import ApiToken

TOKEN = "AbC-123_xyzTOKENtoken0123456789ab"


@pytest.fixture(params=[TextFormatter, JsonFormatter], ids=["text", "json"])
def app_log(request):
    """What the app's console handler writes, in each format."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(request.param())
    root = logging.getLogger()
    root.addHandler(handler)
    yield stream
    root.removeHandler(handler)


@pytest.mark.parametrize(
    "line, secret",
    [
        (f"Bad Request: /webhooks/inbound/{TOKEN}/", TOKEN),
        (f'"POST /webhooks/inbound/{TOKEN} HTTP/1.1" 403', TOKEN),
        (f"Not Found: /webhooks/inbound/{TOKEN}/messages/wa_backend:1/", TOKEN),
        (f"GET /webhooks%2Finbound%2F{TOKEN}/ HTTP/1.1", TOKEN),
        (f"Bad Request: /whatsapp/waha/{TOKEN}/", TOKEN),
        (f"https://example.com/whatsapp/waha/{TOKEN}/?x=1", TOKEN),
        (f"Authorization: Bearer {TOKEN}", TOKEN),
        (f"token tl_{TOKEN} revoked", f"tl_{TOKEN}"),
        ("GET /files/12.1700000000:AbCdEf123_-xyzSIGNATURE/ HTTP/1.1", "12.1700000000:AbCd"),
    ],
)
def test_it_puts_a_fingerprint_where_a_secret_was(line, secret):
    redacted = redact(line)
    assert secret not in redacted
    assert "[" in redacted and redact(redacted) == redacted


def test_the_fingerprint_is_the_start_of_the_stored_digest(workspace, owner):
    row, token = ApiToken.issue(workspace, "CRM", owner)
    assert redact(f"Bearer {token}") == f"Bearer [{row.digest[:6]}]"
    assert redact(f"got {token}.") == f"got [{row.digest[:6]}]."
    assert fingerprint(token) == row.digest[:6]


def test_other_paths_are_left_alone():
    line = "GET /w/1/integrations/inbound/ and http://waha:3000/api/files/a.pdf 200"
    assert redact(line) == line


def test_djangos_request_warnings_carry_no_inbound_token(client, inbound_webhook, app_log):
    token = inbound_webhook.token
    post(client, inbound_webhook, b"{not json")
    client.post(f"/webhooks/inbound/{TOKEN}/", b"{}", content_type="application/json")
    written = app_log.getvalue()
    assert "Bad Request" in written and "Not Found" in written
    assert token not in written and TOKEN not in written
    assert f"[{inbound_webhook.token_sha256[:6]}]" in written
    assert f"[{fingerprint(TOKEN)}]" in written


def test_the_waha_events_urls_warnings_carry_no_secret(client, waha_connection, app_log):
    client.post(f"/whatsapp/waha/{waha_connection.secret}/", b"[", content_type="application/json")
    written = app_log.getvalue()
    assert "Unauthorized" in written and waha_connection.secret not in written
    assert f"[{waha_connection.secret_sha256[:6]}]" in written


def test_a_traceback_carries_no_secret(app_log):
    try:
        raise ValueError(f"cannot post to /webhooks/inbound/{TOKEN}/")
    except ValueError:
        logging.getLogger("timelines.test").exception("failed")
    written = app_log.getvalue()
    assert "ValueError" in written and TOKEN not in written


def test_a_json_line_stays_json_once_redacted():
    record = logging.LogRecord("x", logging.INFO, "", 0, 'say "%s"', (f"Bearer {TOKEN}",), None)
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == f'say "Bearer [{fingerprint(TOKEN)}]"'
