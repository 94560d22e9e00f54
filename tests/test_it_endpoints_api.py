"""W1: the management API, compatible with TimelinesAI's: every verb, every error, workspace
isolation; never a 5xx."""

import json

import pytest
from django.test import override_settings

from timelines.models import Workspace
from webhooks.endpoints.models import ApiToken, Endpoint

BASE = "/integrations/api/webhooks"
URL = "https://example.com/hook"


@pytest.fixture
def api(client, api_token):
    def call(method, path=BASE, body=None, auth=None, raw=None):
        headers = {"HTTP_AUTHORIZATION": auth if auth is not None else f"Bearer {api_token}"}
        data = raw if raw is not None else json.dumps(body or {})
        if method == "get":
            response = client.get(path, **headers)
        else:
            response = getattr(client, method)(
                path, data, content_type="application/json", **headers
            )
        assert response.status_code < 500
        return response.status_code, response.json()

    return call


def test_it_creates_lists_gets_changes_and_deletes(api, workspace):
    status, body = api("post", body={"event_type": "message:new", "url": URL, "enabled": True})
    assert status == 201
    data = body["data"]
    assert body["status"] == "ok"
    assert data == {
        "id": data["id"],
        "event_type": "message:new",
        "url": URL,
        "enabled": True,
        "errors_counter": 0,
        "secret": data["secret"],  # this answer only (tests/test_it_gives_the_signing_secret…)
    }
    pk = data["id"]
    del data["secret"]
    assert api("get") == (200, {"status": "ok", "data": [data]})
    assert api("get", f"{BASE}/{pk}") == (200, {"status": "ok", "data": data})
    status, body = api("patch", f"{BASE}/{pk}", {"enabled": False})
    assert status == 200 and body["data"]["enabled"] is False
    status, body = api("put", f"{BASE}/{pk}", {"event_type": "chat:created", "url": URL + "2"})
    assert status == 200
    assert (body["data"]["event_type"], body["data"]["url"]) == ("chat:created", URL + "2")
    assert api("delete", f"{BASE}/{pk}")[0] == 200
    assert not Endpoint.objects.filter(pk=pk).exists()
    assert api("get", f"{BASE}/{pk}")[0] == 404


def test_the_trailing_slash_is_optional(api):
    assert api("get", BASE + "/")[0] == 200


@pytest.mark.parametrize(
    "auth", ["", "Bearer", "Bearer tl_wrong", "Basic abc", "Bearer " + "x" * 500]
)
def test_a_bad_token_is_a_401(api, auth):
    status, body = api("get", auth=auth)
    assert status == 401 and body["status"] == "error" and "token" in body["message"]


def test_a_revoked_token_is_a_401(api, workspace):
    ApiToken.objects.get(workspace=workspace).revoke()
    assert api("get")[0] == 401


def test_tokens_are_stored_hashed(api_token, workspace):
    row = ApiToken.objects.get(workspace=workspace)
    assert api_token not in (row.digest, row.hint) and len(api_token) >= 40


def test_another_workspace_s_webhook_is_a_404(api, outsider):
    theirs = Endpoint.create(
        Workspace.objects.get(name="Elsewhere"), url=URL, event_type="message:new"
    )
    for method in ("get", "put", "patch", "delete"):
        body = {"event_type": "message:new", "url": URL}
        assert api(method, f"{BASE}/{theirs.pk}", body)[0] == 404
    assert api("get")[1]["data"] == []
    assert Endpoint.objects.filter(pk=theirs.pk).exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"event_type": "message:deleted", "url": URL}, "event_type"),
        ({"event_type": 3, "url": URL}, "event_type"),
        ({"url": URL}, "event_type"),
        ({"event_type": "message:new"}, "url"),
        ({"event_type": "message:new", "url": "ftp://example.com/x"}, "url"),
        ({"event_type": "message:new", "url": "http://[::1"}, "url"),
        ({"event_type": "message:new", "url": "http://example.com:99999/"}, "url"),
        ({"event_type": "message:new", "url": "not a url"}, "url"),
        ({"event_type": "message:new", "url": URL, "enabled": "yes"}, "enabled"),
    ],
)
def test_bad_fields_are_a_400_naming_the_field(api, body, field):
    status, answer = api("post", body=body)
    assert status == 400
    assert answer["status"] == "error" and f'"{field}"' in answer["message"]


@override_settings(ALLOW_PRIVATE_URLS=False)
@pytest.mark.parametrize(
    "url", ["http://127.0.0.1/x", "http://10.0.0.1/", "http://[::ffff:192.168.0.1]/"]
)
def test_a_private_url_is_a_400(api, url):
    status, answer = api("post", body={"event_type": "message:new", "url": url})
    assert status == 400 and '"url"' in answer["message"]


def test_a_bad_patch_changes_nothing(api, workspace):
    endpoint = Endpoint.create(workspace, url=URL, event_type="message:new")
    status, answer = api("patch", f"{BASE}/{endpoint.pk}", {"url": "javascript:alert(1)"})
    assert status == 400 and '"url"' in answer["message"]
    endpoint.refresh_from_db()
    assert endpoint.url == URL


@override_settings(WEBHOOK_ENDPOINTS_MAX=3)
def test_one_endpoint_too_many_is_a_400(api):
    for _ in range(3):
        assert api("post", body={"event_type": "message:new", "url": URL})[0] == 201
    status, answer = api("post", body={"event_type": "message:new", "url": URL})
    assert status == 400 and "at most 3" in answer["message"]


def test_the_eleventh_endpoint_is_a_400_by_default(api):
    for _ in range(10):
        assert api("post", body={"event_type": "chat:created", "url": URL})[0] == 201
    assert api("post", body={"event_type": "chat:created", "url": URL})[0] == 400


@pytest.mark.parametrize("raw", ["{", "[1]", '"x"', "\xff"])
def test_a_body_that_is_not_a_json_object_is_a_400(api, raw):
    status, answer = api("post", raw=raw)
    assert status == 400 and answer["status"] == "error"


def test_an_unknown_method_is_a_405_in_the_error_shape(api):
    status, answer = api("delete", BASE)
    assert status == 405 and answer["status"] == "error"


def test_it_is_in_the_openapi_schema(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert "/integrations/api/webhooks" in schema["paths"]
    operations = schema["paths"]["/integrations/api/webhooks/{id}"]
    assert set(operations) >= {"get", "put", "patch", "delete"}
