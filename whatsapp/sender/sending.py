"""One send, in a pool thread: fetch the attachment, wait for the exact due time, check the fence,
call the transport. No database writes here: the outcome is recorded by the dispatcher's thread.

The fence (SPEC P8): the transport is called only while the dispatcher still holds the account,
with at least FENCE of the hold left as the database last confirmed it (a claim or a renewal,
both made with the dispatcher's lease token). A process that was frozen or starved past that
point finds its hold gone when it wakes and does not call: whoever took the account over decided
what became of the message. Every wait before the call is bounded (the download by its total
deadline, the sleep by the due time), and the dispatcher renews the hold of a send in flight,
so a live dispatcher never loses an account to a slow download.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings

from whatsapp.attachments import DOWNLOAD_DEADLINE, AttachmentError, fetch_attachment
from whatsapp.media import sent
from whatsapp.models import Message
from whatsapp.transports import NotOnWhatsApp, Restricted, TransportError

log = logging.getLogger(__name__)

EXPIRED = "expired"
NOT_HANDED_OVER = (
    "The hold on the account was not confirmed in time, so it was not handed to WhatsApp."
)


def fence():
    """The least of its hold a send must have left to call the transport: half the hold. What a
    call does on WhatsApp's side is done long before anyone else may take the account over."""
    return timedelta(seconds=settings.SENDER_LEASE_SECONDS / 2)


def longest_send():
    """No send takes longer than its download and its transport call; one still running after
    this is stuck, and its hold is no longer renewed."""
    return timedelta(seconds=DOWNLOAD_DEADLINE + settings.WAHA_TIMEOUT + 30)


@dataclass
class Job:
    """A message marked `sending`, held by its dispatcher until `held_until` (renewed while it
    runs; `lost` once a renewal found the hold gone)."""

    message: Message
    due: datetime
    held_until: datetime
    claimed_at: datetime
    more: bool = False  # the account had more messages waiting when it was claimed
    lost: bool = False
    new_contact: bool = False  # a first message to a new contact (the governor counts them)
    check_number: bool = False  # ask the transport whether the number is on WhatsApp first

    @property
    def account_id(self):
        return self.message.chat.account_id

    def may_call(self, now):
        return not self.lost and self.held_until - now >= fence()


@dataclass
class Outcome:
    job: Job
    at: datetime  # when it ended
    started: datetime = None  # when the transport was called: the message left then
    external_id: str = ""
    error: str = ""
    permanent: bool = False
    called: bool = True  # the transport was called: the gap after it applies
    attachment: object = field(default=None, repr=False)
    kept: str = ""  # where the bytes sent were stored (whatsapp.media.sent)
    reason: str = "transport"  # the failure's kind, for timelines_messages_failed_total
    restriction: Restricted = None  # WhatsApp restricts the account: back to the queue, pause
    number_exists: bool = None  # what a number check answered

    @property
    def ok(self):
        return not self.error and self.restriction is None


def execute(job, clock):
    """Run the send of `job`; returns its Outcome (never raises)."""
    message = job.message
    started = checked = None
    try:
        attachment = None
        if message.attachment_url:
            attachment = fetch_attachment(message.attachment_url, message.attachment_name)
        transport = message.chat.account.get_transport()
        if job.check_number:
            # Before the wait, like the download: a question, not a message, so no gap for it.
            checked = transport.number_exists(message.chat.phone)
            if checked is False:
                error = NotOnWhatsApp(message.chat.phone).message
                return Outcome(
                    job,
                    clock.now(),
                    error=error,
                    permanent=True,
                    called=False,
                    number_exists=False,
                    reason="not_on_whatsapp",
                )
            message.chat.number_exists = checked  # the transport need not ask again
        clock.sleep((job.due - clock.now()).total_seconds())
        started = clock.now()
        if not job.may_call(started):
            return Outcome(job, started, error=NOT_HANDED_OVER, called=False)
        if message.expires_at and started >= message.expires_at:
            return Outcome(
                job, started, error=EXPIRED, permanent=True, called=False, reason="expired"
            )
        external_id = transport.send(message, attachment)
        # The call's end, not the storage's: keeping the file sent must not stretch the gap.
        returned = clock.now()
        kept = sent.store_sent(message, attachment) if attachment is not None else ""
        return Outcome(
            job,
            returned,
            started,
            external_id=external_id,
            attachment=attachment,
            kept=kept,
            number_exists=checked,
        )
    except Restricted as exc:
        return Outcome(job, clock.now(), started, error=exc.message, restriction=exc)
    except AttachmentError as exc:
        return Outcome(
            job, clock.now(), error=str(exc), permanent=True, called=False, reason="attachment"
        )
    except TransportError as exc:
        reason = "not_on_whatsapp" if isinstance(exc, NotOnWhatsApp) else "transport"
        return Outcome(
            job,
            clock.now(),
            started,
            error=exc.message,
            permanent=exc.permanent,
            reason=reason,
            number_exists=checked,
        )
    except Exception as exc:  # a transport bug: treat like a temporary error, keep going
        log.exception("transport failed on %s", message.message_id)
        return Outcome(job, clock.now(), started, error=f"Unexpected error: {exc}")
