"""The endpoint WAHA posts its events to: /whatsapp/waha/<secret>/, one secret per connection.

validate (the secret URL, then the HMAC-SHA512 of the raw body) -> read and parse (the body
reader every machine-facing API shares: timelines.api, SPEC P9) -> dispatch
(whatsapp.waha_events). Every answer is JSON, as WAHA (or whoever holds the URL) reads it: a 4xx
for what the client can fix, a 500 for a bug of ours, which WAHA retries.
"""

import hashlib
import hmac
import logging

from django.http import JsonResponse
from django.utils.crypto import constant_time_compare
from django.views.decorators.csrf import csrf_exempt

from timelines import api
from timelines.metrics import WAHA_EVENTS
from whatsapp.models import WahaConnection
from whatsapp.waha_events import dispatch

log = logging.getLogger(__name__)

# Django's cap on a body read at once (DATA_UPLOAD_MAX_MEMORY_SIZE), which this URL has always
# had: an event carries text and a thumbnail at most, its media is fetched apart (M1).
MAX_EVENT_BYTES = 2_621_440
EXAMPLE = '{"event": "message.any", "session": "default", "payload": {}}'


@csrf_exempt
def events(request, secret):
    try:
        status, answer = receive(request, secret)
    except api.BodyError as exc:
        status, answer = exc.status, {"error": exc.message}
    except Exception:
        WAHA_EVENTS.labels("error").inc()
        return api.logged_once(
            log, "WAHA event", JsonResponse({"error": "Internal error."}, status=500)
        )
    WAHA_EVENTS.labels(outcome(status, answer)).inc()
    return JsonResponse(answer, status=status)


def outcome(status, answer):
    """The event's outcome as a metric's label: applied, ignored (nothing to do), refused."""
    if status != 200:
        return "refused"
    return "ignored" if answer.get("status") == "ignored" else "applied"


def receive(request, secret):
    """validate -> read -> parse -> dispatch: (status, answer)."""
    if request.method != "POST":
        return 405, {"error": f"Method {request.method} not allowed: WAHA POSTs its events."}
    connection = WahaConnection.by_secret(secret)
    if connection is None or not constant_time_compare(connection.secret, secret):
        return 404, {"error": "No such WAHA connection."}
    body = api.read_body(request, MAX_EVENT_BYTES)
    refusal = body.refusal()
    if refusal is not None:
        log.warning("WAHA event refused (connection %s): %s", connection.pk, refusal)
        raise refusal
    problem = signature_problem(connection.hmac_key, request, body.raw)
    if problem:
        log.warning("WAHA event refused (connection %s): %s", connection.pk, problem)
        return 401, {"error": problem}
    try:
        event = api.parse_json(body.raw, EXAMPLE)
    except api.BodyError as exc:
        log.warning("WAHA event is not JSON (connection %s): %s", connection.pk, exc)
        raise
    if not isinstance(event, dict) or not isinstance(event.get("payload"), dict):
        log.warning("WAHA event without a payload ignored (connection %s)", connection.pk)
        return 200, {"status": "ignored"}
    return 200, {"status": dispatch(connection, event)}


def signature_problem(key, request, raw):
    """Why the body's signature is unacceptable, or '' when it is fine (or no key is set)."""
    if not key:
        return ""
    signature = request.headers.get("X-Webhook-Hmac", "")
    algorithm = request.headers.get("X-Webhook-Hmac-Algorithm", "sha512").lower()
    if not signature:
        return "unsigned body (no X-Webhook-Hmac header)"
    if algorithm != "sha512":
        return f"unexpected HMAC algorithm '{algorithm}'"
    expected = hmac.new(key.encode(), raw, hashlib.sha512).hexdigest()
    if not constant_time_compare(expected, signature.strip().lower()):
        return "bad signature (X-Webhook-Hmac does not match the body)"
    return ""
