"""WhatsApp JIDs: '<digits>@s.whatsapp.net' for contacts, '<id>@g.us' for groups.

Some APIs (WAHA among them) write contacts as '<digits>@c.us'; we store the
'@s.whatsapp.net' form and convert at the edges.
"""

import re

CONTACT_SUFFIX = "@s.whatsapp.net"
LEGACY_CONTACT_SUFFIX = "@c.us"
GROUP_SUFFIX = "@g.us"

_CONTACT = re.compile(r"^(\d{5,20})@(s\.whatsapp\.net|c\.us)$")
_GROUP = re.compile(r"^(\d{5,30}(?:-\d{5,20})?)@g\.us$")


class InvalidJid(ValueError):
    pass


def normalize_jid(value):
    """The canonical form of a contact or group JID; InvalidJid for anything else."""
    text = str(value or "").strip().lower()
    if m := _CONTACT.match(text):
        return m.group(1) + CONTACT_SUFFIX
    if _GROUP.match(text):
        return text
    raise InvalidJid(
        f"'{value}' is not a WhatsApp JID: use <digits>@s.whatsapp.net (or @c.us) for a contact "
        "or <id>@g.us for a group."
    )


def is_group_jid(jid):
    return str(jid).endswith(GROUP_SUFFIX)


def contact_jid(phone):
    """'+14151231234' -> '14151231234@s.whatsapp.net'."""
    return str(phone).lstrip("+") + CONTACT_SUFFIX


def jid_user(jid):
    """The part before '@': a contact's digits or a group's id."""
    return str(jid).split("@", 1)[0]


def to_c_us(jid):
    """Our canonical JID in the '@c.us' form some APIs want for contacts."""
    return jid.replace(CONTACT_SUFFIX, LEGACY_CONTACT_SUFFIX)
