"""The governor (SPEC G): per account, what the owner allows (a daily cap on new contacts, quiet
hours, number checks) and what WhatsApp imposes (463, 475, capping), applied by the paced
sender without losing a message: a held message stays `queued`, its credits reserved, and says
why and until when.

Two kinds of hold, so the sender's claim stays an index lookup:

- **The whole account** (quiet hours, a pause of all sending): the account's `next_send_at` is
  moved to the hold's end, so the claim, which already filters on it, does not see the account
  before then. Nothing is written per message; `waiting()` reads the reason from the account.
- **First messages to new contacts** (the daily cap, a 463): the message gets `hold_reason` and
  `hold_until`, which takes it out of the sender's `message_pending` index; the account's next
  message goes. The one-minute tick (`release_due`) or the owner's resume puts held messages
  back in order.

policy.py: the owner's knobs, quiet hours and the daily count. pauses.py: pausing and resuming.
screening.py: what the sender asks before a send.
"""
