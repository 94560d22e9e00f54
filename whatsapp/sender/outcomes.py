"""What became of each send, recorded on its message, in the dispatcher's thread, inside the
transaction that lets go of the account.

Every record is a compare-and-swap from `sending` (whatsapp.status.move). When it finds the
message moved on, the dispatcher lost the account meanwhile (it was frozen or starved past its
hold) and whoever took the account over has already failed the message as interrupted and
refunded it: the late outcome is then added to the message's error, never dropped, and the
message stays failed and refunded (the integrator was told it failed).
"""

import logging
import random
from datetime import timedelta

from django.db.models import F, Value
from django.db.models.functions import Concat

from credits.models import refund
from timelines.metrics import MESSAGES_FAILED, MESSAGES_SENT, SEND_LAG, after_commit
from whatsapp.delivery import apply_early_acks
from whatsapp.media import sent
from whatsapp.models import Message
from whatsapp.sender.sending import NOT_HANDED_OVER
from whatsapp.status import move

log = logging.getLogger(__name__)

GAP_MIN, GAP_MAX = 1.5, 2.5
# The planned gap stops this much short of GAP_MAX: a send starts a few milliseconds after it is
# due, and the measured gap must still stay inside the band.
GAP_SLACK = 0.1
MAX_ATTEMPTS = 5  # transport calls for one message before giving up on temporary errors
BACKOFF = 5  # seconds before the first retry, tripled for each one after

INTERRUPTED = (
    "Interrupted while being handed to WhatsApp (the sending worker stopped): it may or may not "
    "have been sent. It is not retried, so that it is never sent twice; its credits were refunded."
)
SENT_FIELDS = ["sent_at", "error", "attachment_mime", "attachment_size"]


def draw_gap():
    return timedelta(seconds=random.uniform(GAP_MIN, GAP_MAX - GAP_SLACK))


def next_send(outcome):
    """When the account may send after `outcome`. The gap runs from the moment the message was
    handed over (a transport call takes time: WAHA's 100-500 ms), and never ends sooner than the
    shortest gap after the call returned: WhatsApp may have taken the message at any moment of
    the call."""
    job = outcome.job
    if not outcome.called:
        return max(job.due, outcome.at)  # nothing left the account: the old gap still holds
    started = outcome.started or outcome.at
    return max(started + draw_gap(), outcome.at + timedelta(seconds=GAP_MIN))


def fail(message, error, now, expected=(Message.SENDING,), reason="other"):
    """Fail the message and refund its credits, exactly once; True if it failed now. Call
    inside a transaction. `reason` is the failure's kind, a metric's label (a few fixed words:
    never an id or an error text)."""
    message.error, message.failed_at = error, now
    if not move([message], Message.FAILED, expected, ["error", "failed_at"]):
        return False
    refund(message.chat.account.workspace, message.message_id, reason=f"Not sent: {error}"[:200])
    after_commit(MESSAGES_FAILED.labels(reason).inc)
    return True


def record_sent(outcomes):
    """Mark the sent messages `sent` (one statement, two when only some answers carry the
    transport's id); returns how many."""
    for outcome in outcomes:
        message = outcome.job.message
        message.sent_at, message.error = outcome.started, ""
        message.external_id = outcome.external_id or message.external_id
        if outcome.attachment is not None:
            message.attachment_mime = outcome.attachment.mime[:100]
            message.attachment_size = outcome.attachment.size
            sent.record(message, outcome.kept, outcome.attachment.size)
    # Only an id the transport answered with: a transport event (the echo of the message) may
    # have recorded the provider's id already, and an empty answer must not erase it.
    with_id = [o.job.message for o in outcomes if o.external_id]
    without = [o.job.message for o in outcomes if not o.external_id]
    moved = move(with_id, Message.SENT, [Message.SENDING], [*SENT_FIELDS, "external_id"])
    moved += move(without, Message.SENT, [Message.SENDING], SENT_FIELDS)
    after_commit(lambda: count_sent(moved))
    # Acks that arrived before these sends were recorded (WAHA's "delivered" can beat its own
    # answer to us): applied now, after `sent`, so no status is skipped or lost.
    apply_early_acks([m.pk for m in moved])
    ids = {m.pk for m in moved}
    for outcome in outcomes:
        if outcome.job.message.pk not in ids:
            at = outcome.at.strftime("%Y-%m-%d %H:%M:%S")
            note_late(
                outcome.job.message,
                f"WhatsApp accepted it after all, at {at} UTC: the answer came after the message "
                "had been reported failed. Its credits stay refunded.",
                outcome.external_id,
            )
    return len(moved)


def count_sent(messages):
    """Count sends, and how long each message waited from the moment it could go (queued, or
    its retry due) to its hand-over: the pace and the backlog of its account, and any delay of
    the sender's own."""
    MESSAGES_SENT.inc(len(messages))
    for message in messages:
        due = max(filter(None, [message.queued_at, message.retry_at]), default=message.sent_at)
        SEND_LAG.observe(max(0.0, (message.sent_at - due).total_seconds()))


def record_failure(outcome):
    """Record a send that did not go out; returns (failed now?, retry time or None)."""
    message = outcome.job.message
    if outcome.restriction is not None:
        # WhatsApp restricts the account (G3): the message waits for the pause to end, neither
        # failed nor refunded, and the attempt is not counted against it.
        message.send_attempts -= 1
        if move([message], Message.QUEUED, [Message.SENDING], ["send_attempts"]):
            return False, None
        note = f"It was in fact not sent: WhatsApp refused it ({outcome.error})."
    elif not outcome.called and outcome.error == NOT_HANDED_OVER:
        message.send_attempts -= 1  # never reached the transport: no attempt spent
        if move([message], Message.QUEUED, [Message.SENDING], ["send_attempts"]):
            return False, None
        note = "It was in fact never handed to WhatsApp: its worker stopped before the call."
    elif outcome.permanent or message.send_attempts >= MAX_ATTEMPTS:
        error, reason = outcome.error, outcome.reason
        if not outcome.permanent:
            error = f"Gave up after {message.send_attempts} attempts: {error}"
            reason = "retries_exhausted"
        if fail(message, error, outcome.at, reason=reason):
            return True, None
        note = f"The interrupted attempt ended with an error, so it was not sent: {error}"
    else:
        retry_at = retry_later(message, outcome)
        if retry_at:
            return False, retry_at
        note = f"The interrupted attempt ended with an error, so it was not sent: {outcome.error}"
    note_late(message, note)
    return False, None


def retry_later(message, outcome):
    """Back to the head of its account's queue until the backoff is over; returns when (None
    when the message had moved on)."""
    delay = BACKOFF * 3 ** (message.send_attempts - 1)
    message.retry_at = outcome.at + timedelta(seconds=delay)
    message.error = (
        f"Temporary error (attempt {message.send_attempts} of {MAX_ATTEMPTS}), "
        f"retrying in {delay} s: {outcome.error}"
    )
    if move([message], Message.QUEUED, [Message.SENDING], ["error", "retry_at"]):
        return message.retry_at
    return None


def note_late(message, note, external_id=""):
    """Add what a late outcome says to a message that was failed as interrupted meanwhile."""
    log.warning("late outcome for %s: %s", message.message_id, note)
    fields = {"error": Concat(F("error"), Value(" " + note))}
    if external_id:
        fields["external_id"] = external_id  # its echo must not come back as a new message
    Message.objects.filter(pk=message.pk, status=Message.FAILED).update(**fields)
