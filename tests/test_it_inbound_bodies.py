"""SPEC P9 on the inbound endpoint: JSON nested too deeply is a 400 in the I6 shape with no
traceback in the log, and a bug of ours is a 500 in that shape whose traceback is logged once.
(Chunked bodies and the 64 KB limit: test_inbound_chunked_bodies.py.)"""

import logging

import pytest

from tests.bodies import nested, tracebacks
from tests.inbound_helpers import assert_error, post
from webhooks.inbound import service, views
from webhooks.inbound.models import Attempt


@pytest.mark.parametrize("depth", [101, 30_000])
def test_json_nested_too_deeply_is_a_400_without_a_traceback(
    client, inbound_webhook, caplog, depth
):
    raw = b'{"action": "send", "phone": "+14151231234", "deep": ' + nested(depth) + b"}"
    assert_error(post(client, inbound_webhook, raw), 400, "nested more than 100 levels")
    assert tracebacks(caplog) == [] and Attempt.objects.get().status == 400


def test_a_bug_of_ours_is_a_500_in_the_error_shape_logged_once(
    client, inbound_webhook, account, caplog, monkeypatch
):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(service, "answer", broken)
    with caplog.at_level(logging.INFO):
        response = post(client, inbound_webhook, {"action": "send", "phone": "+1415", "text": "x"})
    assert_error(response, 500, "Internal error")
    logged = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(logged) == 1 and logged[0].name == views.log.name
    assert "RuntimeError: a bug" in caplog.text
