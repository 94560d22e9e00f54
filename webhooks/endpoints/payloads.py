"""The JSON bodies of webhooks v2 (SPEC W3), in TimelinesAI's shape, key for key.

Unlike v1: `chat_id` is a number, `timestamp` is `YYYY-MM-DD HH:MM:SS +0000`, the message's id is
`message_uid`, and messages with attachments are included, each file with a signed
`temporary_download_url`. The body of one endpoint is `{"event_type": <its type>, **payload}`."""

import json
from datetime import UTC

from django.utils import timezone

from webhooks.endpoints import links
from whatsapp.models import Message


def timestamp(moment):
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S +0000")


def account_object(account):
    return {"full_name": account.member_name, "email": account.member_email, "phone": account.phone}


def chat_object(chat):
    return {
        "full_name": chat.name,
        "chat_url": chat.chat_url,
        "chat_id": chat.pk,
        "is_group": chat.is_group,
        "phone": "" if chat.is_group else chat.phone,
        "responsible_name": chat.responsible_name,
        "responsible_email": chat.responsible_email,
    }


def attachments(message):
    if not message.has_attachment:
        return []
    return [
        {
            "temporary_download_url": links.make(message.pk),
            "filename": message.attachment_name,
            "size": message.attachment_size,
            "mimetype": message.attachment_mime,
        }
    ]


def message_object(message):
    return {
        "text": message.text,
        "direction": message.direction,
        "origin": message.origin,
        "timestamp": timestamp(message.timestamp),
        "message_uid": message.message_id,
        "sender": {"full_name": message.sender_name, "phone": message.sender_phone},
        "recipient": {"full_name": message.recipient_name, "phone": message.recipient_phone},
        "reply_to_uid": None,
        "attachments": attachments(message),
    }


def message_payload(message):
    chat = message.chat
    return {
        "chat": chat_object(chat),
        "whatsapp_account": account_object(chat.account),
        "message": message_object(message),
    }


def status_payload(message, previous):
    """message:status:changed: the message object with its new status, the one before, when it
    changed, the error of a failed message and whether its credits were refunded (a failed
    message is refunded in full at once, SPEC I10)."""
    payload = message_payload(message)
    failed = message.status == Message.FAILED
    payload["message"].update(
        {
            "status": message.status,
            "previous_status": previous,
            "status_changed_at": timestamp(_status_time(message)),
            "error": message.error if failed else None,
            "refunded": failed and message.credits > 0,
            "refunded_credits": message.credits if failed else 0,
        }
    )
    waiting = getattr(message, "waiting", None)
    if waiting:  # G2: held by the governor, still queued
        until = waiting["until"]
        payload["message"]["waiting"] = {
            "reason": waiting["reason"],
            "until": timestamp(until) if until else None,
        }
    return payload


def _status_time(message):
    field = {
        "delivered": "delivered_at",
        "read": "read_at",
        "failed": "failed_at",
        "queued": "queued_at",
    }
    return getattr(message, field.get(message.status, ""), None) or timezone.now()


def chat_payload(chat):
    return {"chat": chat_object(chat), "whatsapp_account": account_object(chat.account)}


def account_payload(account, reason, at):
    return {
        "whatsapp_account": {**account_object(account), "status": account.status},
        "timestamp": timestamp(at),
        "reason": reason or "",
    }


def pause_payload(account, reason, at):
    """whatsapp_account:paused / :resumed (G3): the account event, with what the pause covers
    ("all" sending or "new_contacts") and until when (null: until the owner resumes)."""
    payload = account_payload(account, reason, at)
    if account.paused:
        until = account.paused_until
        payload["paused"] = {
            "scope": account.paused,
            "until": timestamp(until) if until else None,
        }
    return payload


def refresh_links(payload, message_id):
    """The payload with fresh attachment links (a replay long after the event)."""
    message = payload.get("message")
    if not message or not message.get("attachments") or message_id is None:
        return payload
    fresh = [
        {**item, "temporary_download_url": links.make(message_id)}
        for item in message["attachments"]
    ]
    return {**payload, "message": {**message, "attachments": fresh}}


def body(event_type, payload):
    """The exact bytes an endpoint is sent (UTF-8, emoji as they are)."""
    return json.dumps({"event_type": event_type, **payload}, ensure_ascii=False)
