"""W1/W4/W5 in the browser-less sense: the owner's Webhooks v2 and API tokens pages."""

import json

import pytest

from webhooks.endpoints import event_types as types
from webhooks.endpoints.models import ApiToken, Endpoint
from webhooks.outbound import dispatch
from whatsapp.models import Message
from whatsapp.store import store_message


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


def page(workspace):
    return f"/w/{workspace.pk}/integrations/webhooks/"


def test_the_owner_adds_edits_toggles_and_deletes_a_webhook(owner_client, workspace, receiver):
    response = owner_client.post(
        page(workspace), {"url": receiver.url, "event_type": "message:new", "enabled": "on"}
    )
    assert response.status_code == 302
    endpoint = Endpoint.objects.get(workspace=workspace)
    action = f"{page(workspace)}{endpoint.pk}/"
    assert owner_client.get(action).status_code == 200
    owner_client.post(
        action,
        {"action": "save", "url": receiver.url, "event_type": "chat:created", "enabled": "on"},
    )
    endpoint.refresh_from_db()
    assert endpoint.event_type == "chat:created"
    owner_client.post(action, {"action": "disable"})
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    old = endpoint.secret
    owner_client.post(action, {"action": "rotate"})
    endpoint.refresh_from_db()
    assert endpoint.secret != old
    owner_client.post(action, {"action": "delete"})
    assert not Endpoint.objects.exists()


def test_a_bad_url_is_a_form_error(owner_client, workspace):
    response = owner_client.post(
        page(workspace), {"url": "http://[::1", "event_type": "message:new"}
    )
    assert response.status_code == 400
    assert not Endpoint.objects.exists()


def test_the_page_shows_activations_error_rate_and_last_response(
    owner_client, workspace, chat, subscribe, receiver
):
    endpoint = subscribe(types.MESSAGE_NEW)
    store_message(chat, direction=Message.RECEIVED, origin="contact", text="hi")
    dispatch.deliver_due()
    html = owner_client.get(page(workspace)).content.decode()
    assert f'id="endpoint-{endpoint.pk}"' in html and "message:new" in html
    assert endpoint.secret not in html  # the list has no secrets: each webhook's page has it
    detail = owner_client.get(f"{page(workspace)}{endpoint.pk}/").content.decode()
    assert endpoint.secret in detail and "Download log (JSON)" in detail
    log = owner_client.get(f"{page(workspace)}{endpoint.pk}/log/")
    [entry] = json.loads(log.content)
    assert entry["succeeded"] and json.loads(entry["request"]["body"])["message"]["text"] == "hi"
    owner_client.post(
        f"{page(workspace)}{endpoint.pk}/",
        {"action": "redeliver", "delivery": endpoint.deliveries.get().pk},
    )
    dispatch.deliver_due()
    assert len(receiver.requests) == 2
    owner_client.post(
        f"{page(workspace)}{endpoint.pk}/", {"action": "replay", "since": "2000-01-01T00:00"}
    )
    dispatch.deliver_due()
    assert (
        len({r.headers["webhook-id"] for r in receiver.requests}) == 1
        and len(receiver.requests) == 3
    )


def test_a_member_sees_the_list_but_not_secrets_and_cannot_change_it(
    client, member, workspace, subscribe
):
    endpoint = subscribe(types.MESSAGE_NEW)
    client.force_login(member)
    html = client.get(page(workspace)).content.decode()
    assert "message:new" in html and endpoint.secret not in html
    assert client.post(f"{page(workspace)}{endpoint.pk}/", {"action": "delete"}).status_code == 404
    assert client.get(f"/w/{workspace.pk}/integrations/api-tokens/").status_code == 404


def test_the_owner_creates_a_token_seen_once_and_revokes_it(owner_client, workspace):
    url = f"/w/{workspace.pk}/integrations/api-tokens/"
    html = owner_client.post(url, {"name": "CRM"}).content.decode()
    token = ApiToken.objects.get(workspace=workspace)
    shown = html.split('id="token-value" value="')[1].split('"')[0]
    assert ApiToken.authenticate(shown) == token
    assert shown not in owner_client.get(url).content.decode()
    owner_client.post(url, {"revoke": token.pk})
    assert ApiToken.authenticate(shown) is None
