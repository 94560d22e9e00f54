"""An integrator with only an API token verifies v2 signatures: creating an endpoint answers its
signing secret once, rotating it over the API answers the new one once, later reads never show
it, and the secrets given are the ones requests are really signed with."""

import json

import pytest
from standardwebhooks import Webhook

from webhooks.endpoints.models import ApiToken, Endpoint
from webhooks.outbound import dispatch
from whatsapp.models import Message
from whatsapp.store import store_message

BASE = "/integrations/api/webhooks"


@pytest.fixture
def api(client, workspace, owner):
    token = ApiToken.issue(workspace, "CRM", owner)[1]

    def call(method, path, body=None, token=token):
        auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
        if method == "get":
            response = client.get(path, **auth)
        else:
            data = json.dumps(body or {})
            response = getattr(client, method)(path, data, "application/json", **auth)
        return response.status_code, response.json()

    return call


def signed_by(receiver, secret):
    """Deliver what is due; True when the one request received verifies with `secret`."""
    dispatch.deliver_due()
    [request] = receiver.requests
    receiver.requests.clear()
    headers = {k.lower(): v for k, v in request.headers.items()}
    try:
        Webhook(secret).verify(request.body, headers)
    except Exception:
        return False
    return True


def test_the_secret_created_and_rotated_over_the_api_signs_the_requests(api, receiver, chat):
    status, created = api("post", BASE, {"event_type": "message:new", "url": receiver.url})
    assert status == 201
    secret = created["data"]["secret"]
    assert secret.startswith("whsec_")
    pk = created["data"]["id"]

    store_message(chat, direction=Message.RECEIVED, origin="contact", text="one")
    assert signed_by(receiver, secret)

    status, rotated = api("post", f"{BASE}/{pk}/rotate-secret")
    assert status == 200
    new = rotated["data"]["secret"]
    assert new.startswith("whsec_") and new != secret
    assert new == Endpoint.objects.get(pk=pk).secret
    store_message(chat, direction=Message.RECEIVED, origin="contact", text="two")
    assert signed_by(receiver, new)
    store_message(chat, direction=Message.RECEIVED, origin="contact", text="three")
    assert not signed_by(receiver, secret)


def test_later_reads_never_show_the_secret(api):
    status, created = api("post", BASE, {"event_type": "chat:created", "url": "https://a.example/"})
    pk = created["data"]["id"]
    answers = [
        api("get", BASE)[1]["data"][0],
        api("get", f"{BASE}/{pk}")[1]["data"],
        api("patch", f"{BASE}/{pk}", {"enabled": False})[1]["data"],
        api("put", f"{BASE}/{pk}", {"event_type": "chat:created", "url": "https://b.example/"})[1][
            "data"
        ],
        api("delete", f"{BASE}/{pk}")[1]["data"],
    ]
    assert all("secret" not in answer for answer in answers)


def test_rotating_is_refused_for_another_workspace_a_bad_token_and_a_get(api, outsider, client):
    theirs = Endpoint.create(
        outsider.owned_workspaces.first(), url="https://c.example/", event_type="chat:created"
    )
    before = theirs.secret
    assert api("post", f"{BASE}/{theirs.pk}/rotate-secret")[0] == 404
    assert api("post", f"{BASE}/{theirs.pk}/rotate-secret", token="tl_wrong")[0] == 401
    got = client.get(f"{BASE}/{theirs.pk}/rotate-secret")
    assert got.status_code == 405 and got.json()["status"] == "error"
    theirs.refresh_from_db()
    assert theirs.secret == before


def test_the_schema_documents_the_secret_and_the_rotation(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    rotate = schema["paths"]["/integrations/api/webhooks/{id}/rotate-secret"]["post"]
    answer = rotate["responses"]["200"]["content"]["application/json"]["schema"]
    assert "secret" in answer["properties"]["data"]["properties"]
    create = schema["paths"]["/integrations/api/webhooks"]["post"]["responses"]["201"]
    assert (
        "secret"
        in create["content"]["application/json"]["schema"]["properties"]["data"]["properties"]
    )
