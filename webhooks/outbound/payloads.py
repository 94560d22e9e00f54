"""The JSON bodies we POST (SPEC O3, O4): the seed's shapes, key for key.

An integration written against TimelinesAI must work unchanged, so keys, nesting and the timestamp
format (`YYYY-MM-DDTHH:MM:SS+0000`, UTC) are a contract; add keys only beside them, never rename.
"""

import json
from datetime import UTC

from django.utils.html import escape


def timestamp(moment):
    """UTC in exactly the seed's form: 2021-02-24T06:25:29+0000."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def account_object(account):
    return {
        "full_name": account.member_name,
        "email": account.member_email,
        "phone": account.phone,
    }


def chat_object(chat, is_new_chat):
    return {
        "full_name": chat.name,
        "responsible_name": chat.responsible_name,
        "responsible_email": chat.responsible_email,
        "chat_url": chat.chat_url,
        "chat_id": chat.chat_id,
        "is_new_chat": bool(is_new_chat),
        "is_group": chat.is_group,
        "phone": "" if chat.is_group else chat.phone,
    }


def message_object(message):
    return {
        "direction": message.direction,
        "timestamp": timestamp(message.timestamp),
        "message_id": message.message_id,
        "sender": {"full_name": message.sender_name, "phone": message.sender_phone},
        "recipient": {"full_name": message.recipient_name, "phone": message.recipient_phone},
        "text": message.text,
    }


def message_payload(message):
    """O3: one message, as soon as it is announced."""
    chat = message.chat
    return {
        "whatsapp_account": account_object(chat.account),
        "chat": chat_object(chat, message.created_chat),
        "message": message_object(message),
    }


def bundle_payload(chat, messages, is_new_chat):
    """O4: the messages of one chat in one window, oldest first (`messages` already sorted)."""
    return {
        "whatsapp_account": account_object(chat.account),
        "chat": chat_object(chat, is_new_chat),
        "messages": [message_object(m) for m in messages],
        "first_message_timestamp": timestamp(messages[0].timestamp),
        "last_message_timestamp": timestamp(messages[-1].timestamp),
        "aggregation": aggregation_html(chat, messages),
    }


def aggregation_html(chat, messages):
    """The ready-made CRM note. Everything that comes from people is escaped: it lands in CRM
    notes rendered as HTML. Line breaks inside a text become <br/> so the note stays readable."""
    lines = [
        "from {} on {}: {}".format(
            escape(m.sender_name or m.sender_phone),
            m.timestamp.astimezone(UTC).strftime("%Y-%m-%d %H:%M"),
            escape(m.text).replace("\r\n", "\n").replace("\n", "<br/>"),
        )
        for m in messages
    ]
    link = escape(_permalink(chat, messages[0]))
    lines.append(f"Click <a href='{link}'>here</a> to open the conversation in Timelines")
    return "<br/>".join(lines)


def _permalink(chat, message):
    # The chat is already loaded with the batch; going through message.chat would query again.
    message.chat = chat
    return message.permalink


def encode(payload):
    """The exact bytes we sign and send (UTF-8, emoji kept as they are)."""
    return json.dumps(payload, ensure_ascii=False)
