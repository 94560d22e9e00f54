"""An account's policy (SPEC G1): the daily cap on new contacts, quiet hours in the account's
time zone, number checks; and what a message held by the governor is waiting for (G2)."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import transaction

from whatsapp.models import PAUSE_ALL, PAUSE_NEW_CONTACTS

QUIET_HOURS = "quiet_hours"
NEW_CONTACT_LIMIT = "new_contact_limit"
ACCOUNT_PAUSED = "account_paused"

# What the accounts page suggests for a number that is new to WhatsApp Business use (sources in
# docs/owners.md): WhatsApp's own warm-up guidance and what users report before a 463.
RECOMMENDED = {
    "new_contacts_per_day": 20,
    "quiet_hours": "21:00-08:00",
    "check_numbers": True,
}


def zone(account):
    return ZoneInfo(account.time_zone or "UTC")


def quiet_end(account, now):
    """When the quiet hours around `now` end (UTC), or None when `now` is not in them."""
    start, end = account.quiet_from, account.quiet_to
    if start is None or end is None or start == end:
        return None
    local = now.astimezone(zone(account))
    moment = local.time().replace(tzinfo=None)
    inside = start <= moment < end if start < end else (moment >= start or moment < end)
    if not inside:
        return None
    day = local.date() if moment < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=zone(account)).astimezone(now.tzinfo)


def local_day(account, now):
    return now.astimezone(zone(account)).date()


def next_day(account, now):
    """The next midnight in the account's zone: when the daily count starts again."""
    tomorrow = local_day(account, now) + timedelta(days=1)
    return datetime.combine(tomorrow, time(0), tzinfo=zone(account)).astimezone(now.tzinfo)


def new_contacts_left(account, now):
    """How many first messages to new contacts may still go today (None: no cap)."""
    if account.new_contacts_per_day is None:
        return None
    sent = account.new_contacts_sent if account.new_contacts_day == local_day(account, now) else 0
    return max(account.new_contacts_per_day - sent, 0)


def pause_active(account, now, scope=None):
    """Whether a pause (of `scope`, or any) holds at `now`."""
    if not account.paused or (scope and account.paused != scope):
        return False
    return account.paused_until is None or account.paused_until > now


def account_hold(account, now):
    """(reason, until) when nothing may leave the account now (a pause of all sending, quiet
    hours); None otherwise. `until` None means until the owner resumes."""
    if pause_active(account, now, PAUSE_ALL):
        return ACCOUNT_PAUSED, account.paused_until
    end = quiet_end(account, now)
    if end is not None:
        return QUIET_HOURS, end
    return None


def governs_new_contacts(account, now):
    """Whether the sender must know if a message goes to a new contact (one query per batch)."""
    return (
        account.new_contacts_per_day is not None
        or account.check_numbers
        or pause_active(account, now, PAUSE_NEW_CONTACTS)
    )


def waiting(message, now):
    """G2: {"reason", "until"} for a queued message the governor holds, else None."""
    if message.status != "queued":
        return None
    if message.hold_reason:
        return {"reason": message.hold_reason, "until": message.hold_until}
    hold = account_hold(message.chat.account, now)
    if hold is None:
        return None
    return {"reason": hold[0], "until": hold[1]}


# The owner's settings -------------------------------------------------------------------------


def parse_quiet_hours(value):
    """'HH:MM-HH:MM' -> (from, to); 'none' or '' -> (None, None); ValueError otherwise."""
    value = (value or "").strip()
    if value.lower() in ("", "none"):
        return None, None
    try:
        start, end = (time.fromisoformat(part.strip()) for part in value.split("-"))
    except ValueError:
        raise ValueError(f"Quiet hours must look like 21:00-08:00, not '{value}'.") from None
    if start == end:
        raise ValueError("Quiet hours must start and end at different times.")
    return start, end


def quiet_hours_text(account):
    if account.quiet_from is None or account.quiet_to is None:
        return None
    return f"{account.quiet_from:%H:%M}-{account.quiet_to:%H:%M}"


def set_policy(account, **changes):
    """Change the policy (any of new_contacts_per_day, quiet_from, quiet_to, time_zone,
    check_numbers), validated; held messages are looked at again under the new rules."""
    from whatsapp.governor import pauses

    for name, value in changes.items():
        setattr(account, name, value)
    try:
        account.full_clean(validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        raise ValidationError(exc.messages) from None
    with transaction.atomic():
        account.save(update_fields=list(changes))
        pauses.release_held(account)


def describe(account, now):
    """The policy and the pause as data (the command prints it as one line of JSON)."""
    return {
        "account": account.phone,
        "new_contacts_per_day": account.new_contacts_per_day,
        "new_contacts_left_today": new_contacts_left(account, now),
        "quiet_hours": quiet_hours_text(account),
        "timezone": account.time_zone,
        "check_numbers": account.check_numbers,
        "paused": pause_active(account, now),
        "paused_scope": account.paused or None,
        "paused_until": iso(account.paused_until),
        "pause_reason": account.pause_reason or None,
    }


def iso(moment):
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None
