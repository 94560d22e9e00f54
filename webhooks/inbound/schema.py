"""The OpenAPI description of the inbound endpoint and its status lookup (served at /api/schema/).

Written as plain schema dicts: the request has a field whose name contains spaces
("whatsapp account phone", the seed's spelling), which no serializer can declare.
"""

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema

TOKEN = OpenApiParameter(
    "token",
    str,
    OpenApiParameter.PATH,
    description="The secret part of your inbound URL, as shown on Integrations / Inbound webhook.",
)
MESSAGE_ID = OpenApiParameter(
    "message_id", str, OpenApiParameter.PATH, description="A message_id this endpoint returned."
)

PHONE = {"type": "string", "example": "+14151231234"}
ACCOUNT_PHONE_DOC = (
    "The sending WhatsApp account, as an international number. Default: the most recently "
    "connected account that is connected now. Ignored when chat_id is given."
)
SEND_REQUEST = {
    "type": "object",
    "required": ["action"],
    "description": (
        "Give one recipient: chat_id › jid › phone › chat_name (when several are given, the first "
        'in this order wins). Fields given as null or "" count as absent; unknown fields are '
        "ignored."
    ),
    "properties": {
        "action": {"type": "string", "enum": ["send"], "description": 'Only "send".'},
        "text": {
            "type": "string",
            "description": "Plain UTF-8 text, \\n between lines. Required and non-empty unless "
            "file_url is given. Costs 1 credit, 2 with an attachment.",
        },
        "file_url": {
            "type": "string",
            "format": "uri",
            "description": "A public, direct download link (http/https) of a file of at most 2 MB. "
            "A link that answers with a web page fails the message.",
        },
        "file_name": {
            "type": "string",
            "description": "The attachment's name; required with file_url.",
        },
        "chat_id": {
            "oneOf": [{"type": "string", "pattern": "^[0-9]+$"}, {"type": "integer"}],
            "description": "An existing chat (or group) of this workspace, as in its URL.",
        },
        "jid": {
            "type": "string",
            "description": "A contact '<digits>@s.whatsapp.net' (or '@c.us') or an existing group "
            "'<id>@g.us'. A contact with no chat yet gets one.",
        },
        "phone": {
            **PHONE,
            "description": "An international number (+<country><area><local>), normalised to "
            "E.164. A number with no chat yet gets one on the sending account.",
        },
        "chat_name": {
            "type": "string",
            "description": "The exact name of exactly one chat (on the sending account when one is "
            "named, else in the workspace).",
        },
        "whatsapp_account_phone": {**PHONE, "description": ACCOUNT_PHONE_DOC},
        "whatsapp account phone": {
            **PHONE,
            "description": "The same as whatsapp_account_phone, spelt as in the original docs.",
        },
        "send_at": {
            "type": "string",
            "example": "2026-03-01T09:00:00+01:00",
            "description": "Beyond TimelinesAI: send at this time, not before (ISO 8601 with an "
            "offset, or 'YYYY-MM-DD HH:MM:SS +0000'; at most 30 days ahead; a past time means "
            "now). The message is 'scheduled' until then, its credits reserved, then queued.",
        },
        "expires_at": {
            "type": "string",
            "example": "2026-03-01 18:00:00 +0000",
            "description": "Beyond TimelinesAI: a message not handed to WhatsApp by this time "
            "(same formats) fails with the error 'expired' and is refunded.",
        },
    },
}

SUCCESS = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": ["success"]},
        "data": {
            "type": "object",
            "properties": {
                "message_id": {"type": "string", "example": "wa_backend:3EB09FCC85FE99662E46"}
            },
        },
    },
}
ERROR = {
    "type": "object",
    "required": ["status", "data", "message"],
    "properties": {
        "status": {"type": "integer", "description": "The HTTP status, repeated."},
        "data": {"type": "object", "description": "Always {}."},
        "message": {"type": "string", "description": "What is wrong, naming the field at fault."},
    },
}
NULLABLE_TIME = {"type": "string", "format": "date-time", "nullable": True}
STATUS = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": ["success"]},
        "data": {
            "type": "object",
            "properties": {
                "message_id": {"type": "string"},
                "status": {
                    "type": "string",
                    "enum": [
                        "scheduled",
                        "queued",
                        "sending",
                        "sent",
                        "delivered",
                        "read",
                        "failed",
                        "cancelled",
                    ],
                },
                "created_at": {"type": "string", "format": "date-time"},
                "sent_at": NULLABLE_TIME,
                "delivered_at": NULLABLE_TIME,
                "read_at": NULLABLE_TIME,
                "failed_at": NULLABLE_TIME,
                "error": {"type": "string", "nullable": True},
                "waiting": {
                    "type": "object",
                    "description": "Only while the account's governor holds a queued message: "
                    "why, and until when (null: until the owner resumes the account).",
                    "properties": {
                        "reason": {
                            "type": "string",
                            "enum": ["quiet_hours", "new_contact_limit", "account_paused"],
                        },
                        "until": NULLABLE_TIME,
                    },
                },
                "send_at": {
                    "type": "string",
                    "format": "date-time",
                    "description": "Only while the message is scheduled.",
                },
                "expires_at": {
                    "type": "string",
                    "format": "date-time",
                    "description": "Only when the request gave one.",
                },
            },
        },
    },
}
CANCELLED = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": ["success"]},
        "data": {
            "type": "object",
            "properties": {
                "message_id": {"type": "string"},
                "status": {"type": "string", "enum": ["cancelled"]},
                "refunded_credits": {"type": "integer"},
            },
        },
    },
}

# The error table (also in the README): status → (when, an example message).
ERRORS = {
    400: (
        "Bad request: the body is not JSON (the message says where), or a field is missing or "
        "invalid (the message names it), or the recipient or account does not exist.",
        "The field \"phone\" is not a valid phone number: '12345' is not an international phone "
        "number: write it as +<country><number>, e.g. +14151231234.",
    ),
    402: ("Not enough credits; nothing was queued.", "Message sending quota exceeded"),
    403: ("The webhook is switched off; nothing was queued.", "Webhook is disabled"),
    404: (
        "Unknown (or replaced) URL, or a message that is not this workspace's.",
        "Webhook not found",
    ),
    405: (
        "A method other than POST (GET or DELETE for a message).",
        "Method GET not allowed.",
    ),
    409: (
        "No WhatsApp account can send (none connected, or the chat's account is disconnected), "
        "or chat_name matches more than one chat.",
        "No WhatsApp account is connected to this workspace. Connect one and try again.",
    ),
    413: ("The body is larger than 64 KB.", "The request body is larger than 64 KB (65536 bytes)."),
    422: (
        "The Idempotency-Key was already used with a different body.",
        "This Idempotency-Key was already used with a different request body. Use a new key for "
        "a new message.",
    ),
}


# What the seed's Example 2, sent exactly as printed (a comma is missing), is answered.
EXAMPLE_2_AS_PRINTED = {
    "status": 400,
    "data": {},
    "message": "The request body is not valid JSON: Expecting ',' delimiter at line 5, column 1 "
    "(character 62). Check for a missing comma or quote.",
}


def _error_response(status):
    when, message = ERRORS[status]
    examples = [
        OpenApiExample(f"{status}", value={"status": status, "data": {}, "message": message})
    ]
    if status == 400:
        examples.append(
            OpenApiExample("The seed's Example 2 as printed", value=EXAMPLE_2_AS_PRINTED)
        )
    return OpenApiResponse(ERROR, description=when, examples=examples)


EXAMPLE_1 = {
    "action": "send",
    "whatsapp account phone": "+15105566777",
    "phone": "+14151231234",
    "text": "lorem ipsum",
}
# The seed's Example 2 lacks the comma after "text" (and so answers 400); here it is fixed.
EXAMPLE_2 = {
    "action": "send",
    "chat_id": "77234",
    "text": "lorem ipsum",
    "file_url": "https://timelines.ai/logo.png",
    "file_name": "logo.png",
}

endpoint = extend_schema(
    operation_id="inbound_send",
    summary="Send a WhatsApp message",
    description=(
        "POST a JSON object to your workspace's secret inbound URL. The message is validated, its "
        "credits are reserved and it is queued; it leaves the account about 2 s after the previous "
        "one. An optional `Idempotency-Key` header (24 h) makes retries safe: the same key with "
        "the same body answers the first response and sends nothing new."
    ),
    parameters=[
        TOKEN,
        OpenApiParameter(
            "Idempotency-Key",
            str,
            OpenApiParameter.HEADER,
            required=False,
            description="Any string up to 255 characters, unique per message you mean to send.",
        ),
    ],
    request={"application/json": SEND_REQUEST},
    responses={
        200: OpenApiResponse(
            SUCCESS,
            description="Accepted for sending.",
            examples=[
                OpenApiExample(
                    "Accepted",
                    value={
                        "status": "success",
                        "data": {"message_id": "wa_backend:3EB09FCC85FE99662E46"},
                    },
                )
            ],
        ),
        **{status: _error_response(status) for status in ERRORS},
    },
    examples=[
        OpenApiExample(
            "Example 1: a text to a phone number through a given account",
            value=EXAMPLE_1,
            request_only=True,
        ),
        OpenApiExample(
            "Example 2: text and attachment to a chat (or group) by id",
            value=EXAMPLE_2,
            request_only=True,
        ),
    ],
    tags=["Inbound webhook"],
)

message_status = extend_schema(
    operation_id="inbound_message_status",
    summary="Status of a sent message",
    parameters=[TOKEN, MESSAGE_ID],
    responses={
        200: OpenApiResponse(STATUS, description="The message's status; times in UTC."),
        403: _error_response(403),
        404: _error_response(404),
        405: _error_response(405),
    },
    tags=["Inbound webhook"],
)

message_cancel = extend_schema(
    operation_id="inbound_message_cancel",
    summary="Cancel a scheduled or queued message",
    description=(
        "Cancels a message that is still `scheduled` or `queued` and refunds its credits at once. "
        "Once sending has begun (or it was sent, failed or cancelled) the answer is 409 and "
        "nothing changes. A cancel racing the sender ends either cancelled and refunded or sent, "
        "never both."
    ),
    parameters=[TOKEN, MESSAGE_ID],
    responses={
        200: OpenApiResponse(CANCELLED, description="Cancelled; the credits are refunded."),
        403: _error_response(403),
        404: _error_response(404),
        409: OpenApiResponse(ERROR, description="Sending had begun: too late to cancel."),
    },
    tags=["Inbound webhook"],
)
