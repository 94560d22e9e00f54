"""What the whatsapp app announces, for apps above it (the outbound webhook) to hook into.

Both are sent inside the transaction that made the change, so a receiver that writes rows (a
delivery to make) commits or rolls back together with the message.
"""

from django.dispatch import Signal

# A message row was stored. Arguments: message.
message_stored = Signal()

# Messages we send changed status (queued -> sending -> sent -> delivered -> read, or failed),
# one or a batch of them at once (whatsapp.status.move). Arguments: changes, a list of
# (message, previous status) pairs; each message has its new status.
message_status_changed = Signal()

# A chat row was created. Arguments: chat, direction ("sent" or "received": who started it).
chat_created = Signal()

# A chat's responsible member was set, changed or removed. Arguments: chat, previous (the user
# before, or None); the new one is chat.responsible (None when removed).
chat_responsible_changed = Signal()

# An account became connected or disconnected. Arguments: account, previous (the status before),
# reason (words for people, may be "").
account_status_changed = Signal()

# A received (or phone-typed) message's file was stored, or found unavailable: the message is
# complete (its size known) and can be announced with it. Arguments: message.
media_settled = Signal()

# The governor paused an account's sending (SPEC G3), or the pause ended. Arguments: account
# (with its paused, paused_until and pause_reason), reason (words for people).
account_paused = Signal()
account_resumed = Signal()

# The governor held queued messages that were about to be sent (G2). Arguments: messages, each
# with `waiting` set to {"reason", "until"}.
messages_held = Signal()
