"""DELETE <inbound URL>messages/<message_id>/ (SPEC G5): cancel a scheduled or queued message and
refund its credits; 409 once sending has begun."""

from webhooks.inbound.intake import InboundError
from webhooks.inbound.service import own_message
from whatsapp.outbox import cancel


def cancel_message(webhook, message_id):
    """The answer's data, or an InboundError (403, 404, 409)."""
    message = own_message(webhook, message_id)
    refunded = cancel(message)
    if refunded is None:
        message.refresh_from_db(fields=["status"])
        raise InboundError(
            409,
            f"The message can no longer be cancelled: it is {message.status} (only a scheduled "
            "or queued message can be; sending had begun).",
        )
    return {"message_id": message.message_id, "status": "cancelled", "refunded_credits": refunded}
