"""A v2 endpoint switched off by a person or a program records who or what did it — the page
(and which user), the API (and which token), the command line, the admin — never "by the owner"
for all of them; the endpoint's page shows it."""

import json

import pytest
from django.core.management import call_command

from tests.outbound_helpers import switch_off_over_the_api
from webhooks.endpoints.models import ApiToken, Endpoint


@pytest.fixture
def endpoint(workspace):
    return Endpoint.create(workspace, url="https://example.com/hook", event_type="message:new")


def reason(endpoint):
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    return endpoint.disabled_reason


def test_over_the_api_it_names_the_token(client, workspace, owner, endpoint):
    token = ApiToken.issue(workspace, "Zapier zap", owner)[1]
    switch_off_over_the_api(client, endpoint, token)
    assert reason(endpoint) == "Switched off over the API with the token “Zapier zap”."


def test_on_the_page_it_names_the_user_and_the_page_shows_it(client, owner, endpoint):
    client.force_login(owner)
    url = f"/w/{endpoint.workspace_id}/integrations/webhooks/{endpoint.pk}/"
    client.post(url, {"action": "save", "url": endpoint.url, "event_type": endpoint.event_type})
    assert reason(endpoint) == "Switched off by owner on the Webhooks v2 page."
    html = client.get(url).content.decode()
    assert "Switched off by owner on the Webhooks v2 page." in html


def test_from_the_command_line_it_says_so(workspace, endpoint, capsys):
    call_command("webhooks_v2", str(workspace.pk), "--disable", str(endpoint.pk))
    assert reason(endpoint) == "Switched off from the command line (manage.py webhooks_v2)."
    assert json.loads(capsys.readouterr().out)["disabled_reason"] == reason(endpoint)
