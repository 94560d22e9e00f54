"""The management API of webhooks v2 (SPEC W1), compatible with TimelinesAI's public API:
`Authorization: Bearer <workspace API token>`, base `/integrations/api/`.

    GET    webhooks            the workspace's endpoints
    POST   webhooks            {event_type, url, enabled} -> the new endpoint, with its `secret`
    GET    webhooks/<id>       one endpoint
    PUT    webhooks/<id>       replace event_type, url (and enabled)
    PATCH  webhooks/<id>       change any of them
    DELETE webhooks/<id>       remove it
    POST   webhooks/<id>/rotate-secret   a new signing secret -> the endpoint, with its `secret`

The signing secret is in an answer only where it was just made (beyond TimelinesAI, whose API
never returns it): an integrator without access to the console still verifies signatures, and a
token that can list endpoints cannot read every secret back.

Success: `{"status": "ok", "data": ...}`. Error: 4xx `{"status": "error", "message": ...}` naming
the field at fault. Bodies are read as every machine-facing API reads them (timelines.api, SPEC
P9), at most 64 KB. Bad input is never a 5xx; a bug of ours is a 500 in the same shape."""

import logging

from django.core.exceptions import ValidationError
from rest_framework.response import Response

from timelines import api
from webhooks.endpoints import api_schema, event_types
from webhooks.endpoints.models import ApiToken, Endpoint

log = logging.getLogger(__name__)
FIELDS = ("event_type", "url", "enabled")
MAX_BODY = 64 * 1024
EXAMPLE = '{"event_type": "message:new", "url": "https://example.com/hook", "enabled": true}'


class ApiError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status, self.message = status, message


def ok(data, status=200):
    return Response({"status": "ok", "data": data}, status=status)


def fail(status, message):
    return Response({"status": "error", "message": message}, status=status)


class ManagementView(api.JSONOnlyAPIView):
    """Bearer-token views: the token names the workspace."""

    def dispatch(self, request, *args, **kwargs):
        self.args, self.kwargs = args, kwargs
        self.request = self.initialize_request(request, *args, **kwargs)
        self.headers = self.default_response_headers
        try:
            self.initial(self.request, *args, **kwargs)
            handler = getattr(self, request.method.lower(), None)
            if request.method.lower() not in self.http_method_names or handler is None:
                raise ApiError(405, f"Method {request.method} not allowed.")
            self.token = authenticate(request)
            self.workspace = self.token.workspace
            response = handler(self.request, *args, **kwargs)
        except (ApiError, api.BodyError) as exc:
            response = fail(exc.status, exc.message)
        except Exception:
            response = api.logged_once(
                log, "management API", fail(500, "Internal error; please retry later.")
            )
        self.response = self.finalize_response(self.request, response, *args, **kwargs)
        return self.response


def authenticate(request):
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    row = ApiToken.authenticate(token.strip()) if scheme.lower() == "bearer" else None
    if row is None:
        raise ApiError(401, "Invalid or revoked API token: send Authorization: Bearer <token>.")
    return row


def read_body(request, required=()):
    data = api.read_json(request._request, MAX_BODY, EXAMPLE)
    if not isinstance(data, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    for name in required:
        if name not in data:
            raise ApiError(400, f'The field "{name}" is required.')
    return clean(data)


def clean(data):
    """The known fields, type-checked; the error names the field."""
    fields = {}
    for name in ("event_type", "url"):
        if name in data:
            if not isinstance(data[name], str):
                raise ApiError(400, f'The field "{name}" must be a string.')
            fields[name] = data[name]
    if "event_type" in fields and fields["event_type"] not in event_types.ALL:
        raise ApiError(
            400,
            f'The field "event_type" must be one of {", ".join(event_types.ALL)}; '
            f"not {fields['event_type']!r}.",
        )
    if "enabled" in data:
        if not isinstance(data["enabled"], bool):
            raise ApiError(400, 'The field "enabled" must be true or false.')
        fields["enabled"] = data["enabled"]
    return fields


def refused(exc):
    """A model's ValidationError as a 400 naming the field."""
    if hasattr(exc, "error_dict"):
        name, errors = next(iter(exc.error_dict.items()))
        words = " ".join(m for e in errors for m in e.messages)
        field = "url" if name == "__all__" else name
        return ApiError(400, f'The field "{field}" is invalid: {words}')
    return ApiError(400, " ".join(exc.messages))


def find(workspace, pk):
    endpoint = Endpoint.objects.filter(workspace=workspace, pk=pk).first()
    if endpoint is None:
        raise ApiError(404, f"No webhook with id {pk} in this workspace.")
    return endpoint


class Webhooks(ManagementView):
    http_method_names = ["get", "post"]

    @api_schema.list_webhooks
    def get(self, request):
        return ok([e.as_api_dict() for e in Endpoint.objects.filter(workspace=self.workspace)])

    @api_schema.create_webhook
    def post(self, request):
        fields = read_body(request, required=("event_type", "url"))
        try:
            endpoint = Endpoint.create(self.workspace, **fields)
        except ValidationError as exc:
            raise refused(exc) from None
        return ok(endpoint.as_api_dict(with_secret=True), status=201)


class Webhook(ManagementView):
    http_method_names = ["get", "put", "patch", "delete"]

    def endpoint(self, pk):
        return find(self.workspace, pk)

    @api_schema.get_webhook
    def get(self, request, pk):
        return ok(self.endpoint(pk).as_api_dict())

    @api_schema.put_webhook
    def put(self, request, pk):
        return self.change(pk, read_body(request, required=("event_type", "url")))

    @api_schema.patch_webhook
    def patch(self, request, pk):
        return self.change(pk, read_body(request))

    @api_schema.delete_webhook
    def delete(self, request, pk):
        endpoint = self.endpoint(pk)
        data = endpoint.as_api_dict()
        endpoint.delete()
        return ok(data)

    def change(self, pk, fields):
        endpoint = self.endpoint(pk)
        reason = f"Switched off over the API with the token “{self.token.name}”."
        try:
            endpoint.change(off_reason=reason, **fields)
        except ValidationError as exc:
            raise refused(exc) from None
        return ok(endpoint.as_api_dict())


class RotateSecret(ManagementView):
    http_method_names = ["post"]

    @api_schema.rotate_secret
    def post(self, request, pk):
        endpoint = find(self.workspace, pk)
        endpoint.rotate_secret()
        return ok(endpoint.as_api_dict(with_secret=True))
