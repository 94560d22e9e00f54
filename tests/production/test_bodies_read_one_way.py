"""P9 over real sockets: the management API and the WAHA events URL read bodies the way the
inbound endpoint does — chunked or with a Content-Length, 413 over their limit, 400 for JSON
nested too deeply — in their own error shapes, through nginx and straight to gunicorn, with no
traceback in the servers' logs."""

import hashlib
import hmac
import json
import time

import pytest

from tests.production.helpers import api_token, new_probe, post, tenant
from webhooks.endpoints.models import Endpoint
from whatsapp.models import WahaConnection

pytestmark = pytest.mark.production

FRONTS = ["proxy", "gunicorn"]
BIG = 2_700_000
DEEP = b"[" * 30_000 + b"]" * 30_000


@pytest.fixture(scope="module")
def shop(server, django_db_blocker):
    with django_db_blocker.unblock():
        shop = tenant("Bodies")
        endpoint = Endpoint.create(
            shop.workspace, url="https://example.com/hook", event_type="chat:created"
        )
        waha = WahaConnection.objects.create(
            workspace=shop.workspace, base_url="http://127.0.0.1:9", created_by=shop.owner
        )
        token = api_token(shop.workspace)
    return endpoint, waha, token


def port_of(server, front):
    return server.port if front == "proxy" else server.direct_port


def api(server, front, token, method, path, body, chunked=False):
    """(status, decoded answer) of a management API call with a raw body."""
    headers = {"Authorization": f"Bearer {token}"}
    if chunked:  # an iterator has no length: http.client sends it chunked
        body = iter([body[n : n + 1000] for n in range(0, len(body), 1000)])
    answer = post(server, path, body, headers, port=port_of(server, front), method=method)
    return answer.status, answer.json()


@pytest.mark.parametrize("front", FRONTS)
def test_a_chunked_patch_switches_an_endpoint_off(server, shop, front, django_db_blocker):
    endpoint, _, token = shop
    path = f"/integrations/api/webhooks/{endpoint.pk}"
    status, body = api(server, front, token, "PATCH", path, b'{"enabled": false}', chunked=True)
    assert (status, body["data"]["enabled"]) == (200, False), body
    with django_db_blocker.unblock():
        assert Endpoint.objects.get(pk=endpoint.pk).enabled is False
        Endpoint.objects.filter(pk=endpoint.pk).update(enabled=True)


@pytest.mark.parametrize("front", FRONTS)
@pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
def test_the_management_api_refuses_big_and_deep_bodies_in_its_shape(server, shop, front, chunked):
    endpoint, _, token = shop
    since = server.error_log_size()
    path = f"/integrations/api/webhooks/{endpoint.pk}"
    # Straight to gunicorn, a worker closes once it has answered, with the rest of a chunked
    # body unread: a client still sending megabytes meets a reset before it reads the 413
    # (nginx reads a body whole first). Just over the limit, the answer arrives.
    size = 100_000 if chunked and front == "gunicorn" else BIG
    big = json.dumps({"enabled": False, "pad": "p" * size}).encode()
    status, body = api(server, front, token, "PATCH", path, big, chunked)
    assert status == 413 and body == {"status": "error", "message": body["message"]}
    status, body = api(server, front, token, "PATCH", path, DEEP, chunked)
    assert status == 400 and "nested" in body["message"] and body["status"] == "error"
    assert_no_traceback(server, since)


@pytest.mark.parametrize("front", FRONTS)
def test_the_waha_events_url_answers_big_and_deep_bodies_with_json(server, shop, front):
    _, waha, _ = shop
    since = server.error_log_size()
    path = f"/whatsapp/waha/{waha.secret}/"
    port = port_of(server, front)
    big = post(server, path, b"{" + b" " * BIG + b"}", port=port)
    assert big.status == 413 and "larger than" in big.json()["error"]
    signature = hmac.new(waha.hmac_key.encode(), DEEP, hashlib.sha512).hexdigest()
    deep = post(server, path, DEEP, {"X-Webhook-Hmac": signature}, port=port)
    assert deep.status == 400 and "nested" in deep.json()["error"]
    unknown = post(server, "/whatsapp/waha/nope/", b"{}", port=port, probe=new_probe("waha"))
    assert unknown.status == 404 and unknown.json() == {"error": "No such WAHA connection."}
    assert_no_traceback(server, since)


def assert_no_traceback(server, since):
    time.sleep(0.2)  # gunicorn's log trails the answers by a moment
    assert "Traceback" not in server.error_text(since), server.error_summary(since)
