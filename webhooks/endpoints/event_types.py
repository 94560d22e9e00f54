"""Webhooks v2 event types (SPEC W2): TimelinesAI's names, plus message:status:changed."""

MESSAGE_NEW = "message:new"
MESSAGE_RECEIVED_NEW = "message:received:new"
MESSAGE_SENT_NEW = "message:sent:new"
CHAT_CREATED = "chat:created"
CHAT_RECEIVED_CREATED = "chat:received:created"
CHAT_SENT_CREATED = "chat:sent:created"
CHAT_ASSIGNED = "chat:assigned"
CHAT_UNASSIGNED = "chat:unassigned"
ACCOUNT_CONNECTED = "whatsapp_account:connected"
ACCOUNT_DISCONNECTED = "whatsapp_account:disconnected"
ACCOUNT_PAUSED = "whatsapp_account:paused"
ACCOUNT_RESUMED = "whatsapp_account:resumed"
MESSAGE_STATUS_CHANGED = "message:status:changed"

ALL = [
    MESSAGE_NEW,
    MESSAGE_RECEIVED_NEW,
    MESSAGE_SENT_NEW,
    CHAT_CREATED,
    CHAT_RECEIVED_CREATED,
    CHAT_SENT_CREATED,
    CHAT_ASSIGNED,
    CHAT_UNASSIGNED,
    ACCOUNT_CONNECTED,
    ACCOUNT_DISCONNECTED,
    MESSAGE_STATUS_CHANGED,
    ACCOUNT_PAUSED,
    ACCOUNT_RESUMED,
]
CHOICES = [(name, name) for name in ALL]

# What happened (an event's own type) -> every subscription it satisfies.
_BROADER = {
    MESSAGE_RECEIVED_NEW: MESSAGE_NEW,
    MESSAGE_SENT_NEW: MESSAGE_NEW,
    CHAT_RECEIVED_CREATED: CHAT_CREATED,
    CHAT_SENT_CREATED: CHAT_CREATED,
}


def subscriptions(kind):
    """The endpoint event types that receive an event of type `kind`."""
    broader = _BROADER.get(kind)
    return [kind, broader] if broader else [kind]


def message_new(direction):
    return f"message:{direction}:new"


def chat_created(direction):
    return f"chat:{direction}:created"
