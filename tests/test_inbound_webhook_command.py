"""`inbound_webhook WORKSPACE [--regenerate] [--enable | --disable]`."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from webhooks.inbound.models import InboundWebhook, token_digest

pytestmark = pytest.mark.django_db


def run(*args):
    out = StringIO()
    call_command("inbound_webhook", *args, stdout=out)
    return json.loads(out.getvalue())


def test_it_generates_a_url_once_and_prints_it(workspace):
    first = run("Acme")
    assert first["enabled"] is True
    assert first["url"].startswith("http://testserver/webhooks/inbound/")
    assert run(str(workspace.pk)) == first
    token = first["url"].rstrip("/").rsplit("/", 1)[-1]
    assert len(token) >= 22  # 128 bits in URL-safe base64
    assert InboundWebhook.objects.get().token_sha256 == token_digest(token)


def test_it_regenerates_and_switches(workspace):
    first = run("Acme")
    second = run("Acme", "--regenerate", "--disable")
    assert second["url"] != first["url"] and second["enabled"] is False
    assert run("Acme", "--enable") == {**second, "enabled": True}


def test_it_refuses_bad_arguments_in_one_line(workspace):
    with pytest.raises(CommandError, match="No workspace named or numbered 'Nope'"):
        run("Nope")
    with pytest.raises(CommandError):
        run("Acme", "--enable", "--disable")
