"""The OpenAPI description of the webhooks v2 management API (served at /api/schema/ with the
inbound endpoint)."""

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema

from webhooks.endpoints import event_types

TAGS = ["Webhooks v2"]
WEBHOOK = {
    "type": "object",
    "properties": {
        "id": {"type": "integer", "example": 12},
        "event_type": {"type": "string", "enum": event_types.ALL},
        "url": {"type": "string", "format": "uri", "example": "https://example.com/hook"},
        "enabled": {"type": "boolean"},
        "errors_counter": {
            "type": "integer",
            "description": "Consecutive failed deliveries; more than 10 switch the webhook off.",
        },
    },
}
REQUEST = {
    "type": "object",
    "properties": {
        "event_type": {"type": "string", "enum": event_types.ALL},
        "url": {
            "type": "string",
            "format": "uri",
            "description": "A public http(s) URL (private and loopback addresses are refused).",
        },
        "enabled": {"type": "boolean", "default": True},
    },
}
CREATE_REQUEST = {**REQUEST, "required": ["event_type", "url"]}
# Only the answers that make a secret carry it (creation, rotation); later GETs never do.
WITH_SECRET = {
    "type": "object",
    "properties": {
        **WEBHOOK["properties"],
        "secret": {
            "type": "string",
            "example": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "description": "The endpoint's Standard Webhooks signing secret, shown in this "
            "answer only: keep it to verify the webhook-signature header of each request.",
        },
    },
}


def _ok(data):
    return {
        "type": "object",
        "properties": {"status": {"type": "string", "enum": ["ok"]}, "data": data},
    }


ERROR = {
    "type": "object",
    "required": ["status", "message"],
    "properties": {
        "status": {"type": "string", "enum": ["error"]},
        "message": {"type": "string", "description": "What to fix, naming the field at fault."},
    },
}
ERRORS = {
    400: OpenApiResponse(
        ERROR,
        description="A field is missing or invalid (unknown event_type; a URL that is not "
        "http(s), does not parse or points at a private address), the body is not JSON, or the "
        "workspace already has the maximum number of webhooks (10).",
        examples=[
            OpenApiExample(
                "400",
                value={
                    "status": "error",
                    "message": 'The field "url" is invalid: This URL cannot be used: only http '
                    "and https URLs are allowed.",
                },
            )
        ],
    ),
    401: OpenApiResponse(
        ERROR,
        description="Missing, invalid or revoked token.",
        examples=[
            OpenApiExample(
                "401",
                value={
                    "status": "error",
                    "message": "Invalid or revoked API token: send Authorization: Bearer <token>.",
                },
            )
        ],
    ),
}
NOT_FOUND = OpenApiResponse(ERROR, description="No such webhook in this token's workspace.")
DESCRIPTION = (
    "Authenticate with `Authorization: Bearer <workspace API token>` (the owner creates and "
    "revokes tokens on the console's API tokens tab)."
)


def _op(operation_id, summary, responses, request=None):
    return extend_schema(
        operation_id=operation_id,
        summary=summary,
        description=DESCRIPTION,
        tags=TAGS,
        request=request,
        responses=responses,
    )


list_webhooks = _op(
    "webhooks_list",
    "List the workspace's webhooks",
    {200: _ok({"type": "array", "items": WEBHOOK}), 401: ERRORS[401]},
)
create_webhook = _op(
    "webhooks_create",
    "Create a webhook subscribed to one event type",
    {201: _ok(WITH_SECRET), **ERRORS},
    request=CREATE_REQUEST,
)
get_webhook = _op(
    "webhooks_retrieve",
    "Get one webhook",
    {200: _ok(WEBHOOK), 401: ERRORS[401], 404: NOT_FOUND},
)
put_webhook = _op(
    "webhooks_update",
    "Replace a webhook's event type and URL (and enabled)",
    {200: _ok(WEBHOOK), **ERRORS, 404: NOT_FOUND},
    request=CREATE_REQUEST,
)
patch_webhook = _op(
    "webhooks_partial_update",
    "Change any of a webhook's event type, URL, enabled",
    {200: _ok(WEBHOOK), **ERRORS, 404: NOT_FOUND},
    request=REQUEST,
)
delete_webhook = _op(
    "webhooks_destroy",
    "Delete a webhook (its pending deliveries are dropped)",
    {200: _ok(WEBHOOK), 401: ERRORS[401], 404: NOT_FOUND},
)
rotate_secret = _op(
    "webhooks_rotate_secret",
    "Give a webhook a new signing secret (the answer is the only place it is shown)",
    {200: _ok(WITH_SECRET), 401: ERRORS[401], 404: NOT_FOUND},
)
