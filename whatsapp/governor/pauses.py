"""Pausing an account's sending and resuming it (SPEC G3): by the owner, or by the governor when
WhatsApp restricts the account. A pause of "all" sending holds the whole account (the sender's
claim sees it first); a pause of "new_contacts" holds only first messages to new contacts.

An account that gets paused is announced once (whatsapp.signals.account_paused: the v2 event)
and its owner gets one email; a pause that is only extended or narrowed says nothing again.
"""

from django.db import connection, transaction
from django.utils import timezone

from whatsapp import sender
from whatsapp.governor import emails
from whatsapp.governor.policy import pause_active
from whatsapp.models import PAUSE_ALL, PAUSE_NEW_CONTACTS, Account, Message
from whatsapp.signals import account_paused, account_resumed

OWNER_PAUSE = "Paused by the owner."
# How long a restriction holds when the server does not say (WAHA before 2026.8, a 475 without
# a capping state): users report restrictions of a day to a week; a day, then the next refusal
# pauses again.
DEFAULT_RESTRICTION_HOURS = 24


def lock(account_id):
    return Account.objects.select_for_update(of=("self",), no_key=True).get(pk=account_id)


def pause(account_id, scope, until, reason, now=None, by_owner=False):
    """Pause the account's sending (`scope` "all" or "new_contacts") until `until` (None: until
    the owner resumes). Returns True when the account was not paused before: it is announced,
    and its owner emailed unless they paused it themselves."""
    now = now or timezone.now()
    with transaction.atomic():
        account = lock(account_id)
        was = pause_active(account, now)
        if was and account.paused == PAUSE_ALL and scope == PAUSE_NEW_CONTACTS:
            return False  # all sending is paused already: a narrower restriction adds nothing
        if was and account.paused == scope and account.paused_until is None:
            return False  # until resumed: already as long as it gets
        account.paused, account.paused_until = scope, until
        account.pause_reason = reason[:300]
        account.save(update_fields=["paused", "paused_until", "pause_reason"])
        if scope == PAUSE_ALL:
            hold_account(account.pk, until)
        if not was:
            account_paused.send(sender=Account, account=account, reason=account.pause_reason)
        if not was and not by_owner:
            # robust: an unreachable mail server must not undo the pause.
            transaction.on_commit(lambda: emails.send_paused_email(account.pk), robust=True)
    return not was


def hold_account(account_id, until):
    """An account no dispatcher holds is not due before `until` (one that is held is looked at
    again by the sender's claim, which sees the pause)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {connection.ops.quote_name(Account._meta.db_table)} SET next_send_at = %s "
            "WHERE id = %s AND lease_token = '' AND next_send_at IS NOT NULL",
            [until, account_id],
        )


def resume(account_id, reason=OWNER_PAUSE, now=None):
    """End the account's pause now: its held messages go back in order, at the usual pace.
    Returns True when it was paused."""
    now = now or timezone.now()
    with transaction.atomic():
        account = lock(account_id)
        was = bool(account.paused)
        account.paused, account.paused_until, account.pause_reason = "", None, ""
        account.save(update_fields=["paused", "paused_until", "pause_reason"])
        release_held(account, now)
        if was:
            account_resumed.send(sender=Account, account=account, reason=reason)
    return was


def release_held(account, now=None):
    """Put the account's held messages back in the sender's queue (their order is their ids)
    and make the account due now, should a hold have put it off (its gap still holds: the claim
    waits for `ready_at`); the policy in force decides again about each message."""
    now = now or timezone.now()
    Account.objects.filter(pk=account.pk, lease_token="", next_send_at__gt=now).update(
        next_send_at=now
    )
    count = (
        Message.objects.filter(account_id=account.pk, status=Message.QUEUED)
        .exclude(hold_reason="")
        .update(hold_reason="", hold_until=None)
    )
    sender.wake_on_commit(account.pk)
    return count


def end_due(now=None):
    """The one-minute tick: end the pauses whose time is over and release the messages whose
    hold is over. Returns (pauses ended, accounts whose held messages were released)."""
    now = now or timezone.now()
    ended = list(
        Account.objects.exclude(paused="")
        .filter(paused_until__lte=now)
        .values_list("pk", flat=True)
    )
    for account_id in ended:
        resume(account_id, reason="The restriction's time is over.", now=now)
    due = set(
        Message.objects.filter(status=Message.QUEUED, hold_until__lte=now)
        .exclude(hold_reason="")
        .values_list("account_id", flat=True)
    )
    for account in Account.objects.filter(pk__in=due):
        with transaction.atomic():
            release_held(account, now)
    return len(ended), len(due)
