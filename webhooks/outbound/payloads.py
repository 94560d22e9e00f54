"""The JSON bodies we POST (SPEC O3, O4): the seed's shapes, key for key.

An integration written against TimelinesAI must work unchanged, so keys, nesting and the timestamp
format (`YYYY-MM-DDTHH:MM:SS+0000`, UTC) are a contract; add keys only beside them, never rename.
"""

import html
import json
from datetime import UTC

from whatsapp.models import Message


def escape(text):
    """HTML-escape (& < > " '); the stdlib's, which is several times cheaper than Django's lazy
    wrapper when a bundle job escapes a hundred thousand texts."""
    return html.escape(text, quote=True)


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
    """`message` is a Message or anything with its attributes (the aggregation reads rows)."""
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
    objects = [message_object(m) for m in messages]
    return {
        "whatsapp_account": account_object(chat.account),
        "chat": chat_object(chat, is_new_chat),
        "messages": objects,
        "first_message_timestamp": objects[0]["timestamp"],
        "last_message_timestamp": objects[-1]["timestamp"],
        "aggregation": aggregation_html(chat, objects),
    }


def aggregation_html(chat, objects):
    """The ready-made CRM note, from the bundle's message objects. Everything that comes from
    people is escaped: it lands in CRM notes rendered as HTML. Line breaks inside a text become
    <br/> so the note stays readable."""
    lines = [_line(o) for o in objects]
    link = escape(Message(chat=chat, message_id=objects[0]["message_id"]).permalink)
    lines.append(f"Click <a href='{link}'>here</a> to open the conversation in Timelines")
    return "<br/>".join(lines)


def _line(message):
    sender, stamp = message["sender"], message["timestamp"]  # 2021-02-24T16:25:29+0000
    text = escape(message["text"]).replace("\r\n", "\n").replace("\n", "<br/>")
    name = escape(sender["full_name"] or sender["phone"])
    return f"from {name} on {stamp[:10]} {stamp[11:16]}: {text}"


def encode(payload):
    """The exact bytes we sign and send (UTF-8, emoji kept as they are)."""
    return json.dumps(payload, ensure_ascii=False)
