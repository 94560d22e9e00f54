"""The inbound endpoint, its status lookup and the owner's log download. Thin: the work is in
webhooks.inbound.service."""

import logging

from rest_framework.response import Response

from timelines.access import workspace_for_owner
from timelines.api import JSONOnlyAPIView, logged_once
from timelines.logs import log_download
from timelines.metrics import INBOUND_REQUESTS
from webhooks.inbound import schema, service
from webhooks.inbound.cancel import cancel_message
from webhooks.inbound.intake import InboundError
from webhooks.inbound.models import Attempt, InboundWebhook

log = logging.getLogger(__name__)

WEBHOOK_NOT_FOUND = InboundError(404, "Webhook not found")


class InboundAPIView(JSONOnlyAPIView):
    """The secret URL is the credential."""

    def http_method_not_allowed(self, request, *args, **kwargs):
        return error(InboundError(405, f"Method {request.method} not allowed."))

    def handle_exception(self, exc):
        # Bad input is answered before it can raise; this is a bug of ours. The integrator
        # still gets the documented shape, never a traceback.
        return logged_once(
            log, "inbound webhook", error(InboundError(500, "Internal error; please retry later."))
        )


def error(err, **headers):
    return Response(err.body, status=err.status, headers=headers or None)


class Endpoint(InboundAPIView):
    """POST a message to send (I5, I6). Every request to a valid URL is recorded (I3, I4)."""

    http_method_names = ["post"]  # anything else: a 405 in our shape (and Allow: POST)

    @schema.endpoint
    def post(self, request, token):
        return self.respond(request, token)

    def http_method_not_allowed(self, request, *args, **kwargs):
        response = self.respond(request, kwargs["token"])
        return response

    def finalize_response(self, request, response, *args, **kwargs):
        # Every answer of the endpoint passes here, its own refusals and our 500s alike.
        INBOUND_REQUESTS.labels(str(response.status_code)).inc()
        return super().finalize_response(request, response, *args, **kwargs)

    def respond(self, request, token):
        call = service.Call.from_request(request._request)
        outcome = service.answer(token, call)
        if outcome is None:
            # No workspace to log it to: the server log only.
            log.info("inbound webhook: unknown URL %s from %s", call.method, call.ip)
            return error(WEBHOOK_NOT_FOUND)
        return Response(outcome.body, status=outcome.status)


class MessageStatus(InboundAPIView):
    """GET the status of a message sent through this workspace (I12); DELETE cancels it (G5)."""

    http_method_names = ["get", "delete"]

    @schema.message_status
    def get(self, request, token, message_id):
        return self.answer(token, message_id, service.message_status)

    @schema.message_cancel
    def delete(self, request, token, message_id):
        return self.answer(token, message_id, cancel_message)

    def answer(self, token, message_id, action):
        webhook = InboundWebhook.by_token(token)
        if webhook is None:
            return error(WEBHOOK_NOT_FOUND)
        try:
            data = action(webhook, message_id)
        except InboundError as err:
            return error(err)
        return Response({"status": "success", "data": data})


def download_log(request, workspace_id):
    """The workspace's 100 latest attempts as a JSON file (I4); the owner's only, 404 to others."""
    workspace = workspace_for_owner(request, workspace_id)
    entries = [attempt.as_log_entry() for attempt in Attempt.latest(workspace)]
    return log_download(workspace, "inbound", entries)
