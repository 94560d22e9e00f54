"""W1: the webhooks_v2 and api_token commands print JSON; bad arguments are one-line errors."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from webhooks.endpoints.models import ApiToken, Endpoint

URL = "https://example.com/hook"


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out)
    return json.loads(out.getvalue())


def test_it_adds_lists_disables_enables_and_deletes(workspace):
    added = run("webhooks_v2", "Acme", "--add", URL, "--event", "message:new")
    assert added["event_type"] == "message:new" and added["enabled"] is True
    assert added["secret"].startswith("whsec_")
    pk = added["id"]
    assert [e["id"] for e in run("webhooks_v2", "Acme", "--list")] == [pk]
    assert run("webhooks_v2", "Acme", "--disable", str(pk))["enabled"] is False
    assert run("webhooks_v2", "Acme", "--enable", str(pk))["enabled"] is True
    assert run("webhooks_v2", "Acme", "--delete", str(pk))["deleted"]["id"] == pk
    assert not Endpoint.objects.exists()


@pytest.mark.parametrize(
    "args",
    [
        ["--add", URL],
        ["--add", "ftp://x", "--event", "message:new"],
        ["--add", URL, "--event", "nope"],
        ["--delete", "999"],
        ["--enable", "1", "--disable", "1"],
    ],
)
def test_bad_arguments_are_one_line_errors(workspace, args):
    with pytest.raises(CommandError) as error:
        call_command("webhooks_v2", "Acme", *args, stdout=StringIO())
    assert "\n" not in str(error.value)


def test_api_token_creates_and_revokes(workspace):
    created = run("api_token", "Acme", "--create", "CRM")
    assert set(created) == {"id", "token"}
    assert ApiToken.authenticate(created["token"]).pk == created["id"]
    assert run("api_token", "Acme", "--revoke", str(created["id"])) == {
        "id": created["id"],
        "revoked": True,
    }
    assert ApiToken.authenticate(created["token"]) is None
    with pytest.raises(CommandError):
        call_command("api_token", "Acme", "--revoke", "999", stdout=StringIO())
