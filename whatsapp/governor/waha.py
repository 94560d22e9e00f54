"""What WAHA says about WhatsApp's restrictions on an account, read for the governor (SPEC G3).

WhatsApp answers a send with error 463 when the account may not start new chats for a while
(reachout timelock) and with 475 when its quota of messages is used up (message capping); WAHA
passes every call through and blocks nothing itself. It reports the same states in the `me` of
`session.status` events (`me.reachoutTimelock`, `me.messageCapping`) and, since 2026.8, at
`GET /api/sessions/{session}/timelock` and `/capping` (WAHA's pull request #2186: capping states
NONE, FIRST_WARNING, SECOND_WARNING, CAPPED, with totalQuota, usedQuota, cycleStart and
cycleEnd; fetched from WhatsApp by the GOWS engine only). The endpoints answer the same objects
as the `me` fields. Any other answer (404 on older servers, 501 on other engines) reads as "not
said", and the pause lasts the default 24 h.
"""

import logging
from datetime import timedelta

from django.utils import timezone

from timelines import safehttp
from whatsapp.governor import pauses
from whatsapp.models import PAUSE_ALL, PAUSE_NEW_CONTACTS
from whatsapp.waha_server import Server

log = logging.getLogger(__name__)

CAPPED = "CAPPED"


def capping_state(capping):
    capping = capping if isinstance(capping, dict) else {}
    return str(capping.get("cappingStatus") or capping.get("status") or "").upper()


def end_of(value, now):
    """WAHA's end time (Unix seconds or ms, or ISO 8601) as a datetime; None if unreadable or
    already past."""
    from whatsapp.transports.waha import parse_time

    if value in (None, ""):
        return None
    when = parse_time(value)
    if when.year == 9999 or when <= now:
        return None
    return when


def default_end(now):
    return now + timedelta(hours=pauses.DEFAULT_RESTRICTION_HOURS)


def read(client, what):
    """GET /api/sessions/{session}/<what> ("capping" or "timelock"): its object, or {}."""
    from whatsapp.transports.waha import json_of

    try:
        response = client.request("GET", f"/api/sessions/{client._path}/{what}")
    except safehttp.FetchError:
        return {}
    return json_of(response) if response.ok else {}


def timelock_end(client, settings, now):
    """When the reachout timelock ends: the endpoint's word, else the last event's, else 24 h."""
    ends = "timeEnforcementEnds"
    return reported_end(client, settings, now, "timelock", "reachoutTimelock", ends)


def capping_end(client, settings, now):
    """When the capping cycle ends, found the same way."""
    return reported_end(client, settings, now, "capping", "messageCapping", "cycleEnd")


def reported_end(client, settings, now, endpoint, me_field, end_field):
    reported = [settings.get("restrictions", {}).get(me_field) or {}]
    if Server.from_answer(settings.get("server")).reads_capping:
        reported.insert(0, read(client, endpoint))
    for state in reported:
        end = end_of(state.get(end_field), now) if state else None
        if end:
            return end
    return default_end(now)


def apply_reported(account, restrictions, now=None):
    """`session.status` reported restrictions (`me`): pause what they cover, before WhatsApp
    answers a send with 463 or 475."""
    now = now or timezone.now()
    restrictions = restrictions or {}
    capping = restrictions.get("messageCapping") or {}
    if capping_state(capping) == CAPPED:
        until = end_of(capping.get("cycleEnd"), now) or default_end(now)
        pauses.pause(account.pk, PAUSE_ALL, until, capped_words(until), now)
    timelock = restrictions.get("reachoutTimelock") or {}
    if isinstance(timelock, dict) and timelock.get("isActive"):
        until = end_of(timelock.get("timeEnforcementEnds"), now)
        if until or not timelock.get("timeEnforcementEnds"):
            until = until or default_end(now)
            pauses.pause(account.pk, PAUSE_NEW_CONTACTS, until, timelock_words(until), now)


def watch_capping(connection, now=None):
    """The sweep's look at a connected account's capping state (servers that have the
    endpoint): CAPPED pauses all sending before WhatsApp refuses with 475. Returns the state."""
    from whatsapp.transports.waha import WahaClient

    account = connection.account
    if account is None or not Server.from_answer(connection.server).reads_capping:
        return ""
    client = WahaClient(connection.base_url, connection.api_key, connection.session)
    capping = read(client, "capping")
    if capping_state(capping) == CAPPED:
        apply_reported(account, {"messageCapping": capping}, now)
    return capping_state(capping)


def shown(until):
    return until.strftime("%Y-%m-%d %H:%M UTC")


def timelock_words(until):
    return (
        "WhatsApp restricted this account from starting new chats (error 463, reachout "
        f"timelock) until {shown(until)}: messages to new contacts wait; existing chats go on."
    )


def capped_words(until):
    return (
        "WhatsApp's message capping used up this account's quota (error 475 / CAPPED) until "
        f"{shown(until)}: all sending waits."
    )
