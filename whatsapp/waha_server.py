"""What a WAHA server can do for us, from its version, engine and tier
(`GET /api/server/version`: {"version": "2026.7.1", "engine": "WEBJS", "tier": "CORE", ...}).

WAHA's changelog decides it: the free Core tier signs events (HMAC) since 2024.11.5, and runs more
than the `default` session and sends files since 2026.6.1, when Plus's features came to Core.
Group acks (`message.ack.group`) exist since 2025.12.2, the lids API since 2025.5.4, the
capping and timelock endpoints since 2026.8. Plus had
HMAC, sessions and files before; the versions below matter for it only where noted.
"""

import re
from dataclasses import dataclass

HMAC_SINCE = (2024, 11, 5)
CORE_SESSIONS_AND_FILES_SINCE = (2026, 6, 1)
GROUP_ACKS_SINCE = (2025, 12, 2)
LIDS_SINCE = (2025, 5, 4)
# GET /api/sessions/{session}/capping and /timelock (WAHA 2026.8's release notes, PR #2186).
CAPPING_SINCE = (2026, 8, 0)

_VERSION = re.compile(r"^\s*v?(\d{4})\.(\d{1,2})\.(\d{1,3})")


def dotted(numbers):
    return ".".join(str(n) for n in numbers)


@dataclass(frozen=True)
class Server:
    version: str = ""
    engine: str = ""
    tier: str = ""

    @classmethod
    def from_answer(cls, answer):
        """From WAHA's answer (or what we stored of it); fields that are not strings are ''."""
        answer = answer if isinstance(answer, dict) else {}

        def field(name, limit):
            value = answer.get(name)
            return value.strip()[:limit] if isinstance(value, str) else ""

        return cls(field("version", 40), field("engine", 20).upper(), field("tier", 20).upper())

    def as_dict(self):
        return {"version": self.version, "engine": self.engine, "tier": self.tier}

    @property
    def known(self):
        return self.numbers is not None

    @property
    def numbers(self):
        match = _VERSION.match(self.version)
        return tuple(int(part) for part in match.groups()) if match else None

    @property
    def is_plus(self):
        return self.tier == "PLUS"

    def _before(self, since):
        return self.known and self.numbers < since

    def _core_before(self, since):
        return not self.is_plus and self._before(since)

    def __str__(self):
        parts = [self.version or "unknown version", self.tier.title(), self.engine]
        return "WAHA " + " ".join(part for part in parts if part)

    # What cannot work: each refusal says why, in words the owner can act on.

    @property
    def signs_events(self):
        return not self._core_before(HMAC_SINCE)

    @property
    def sends_files(self):
        return not self._core_before(CORE_SESSIONS_AND_FILES_SINCE)

    @property
    def reads_capping(self):
        """The capping and timelock endpoints (every tier); an unknown version is asked too."""
        return not self._before(CAPPING_SINCE)

    def runs_session(self, name):
        return name == "default" or not self._core_before(CORE_SESSIONS_AND_FILES_SINCE)

    def refusals(self, session):
        """Why connecting `session` on this server cannot work (empty when it can)."""
        reasons = []
        if not self.signs_events:
            reasons.append(
                f"{self} does not sign its events (HMAC came to WAHA Core in "
                f"{dotted(HMAC_SINCE)}): Timelines would refuse every event, and no message "
                f"would be received. Upgrade WAHA to {dotted(HMAC_SINCE)} or later."
            )
        if not self.runs_session(session):
            reasons.append(
                f"{self} runs only the session named “default” (more sessions came to WAHA Core "
                f"in {dotted(CORE_SESSIONS_AND_FILES_SINCE)}, or need WAHA Plus). Use the "
                "session “default”, or upgrade WAHA."
            )
        return reasons

    def limits(self):
        """What works only partly on this server (the account still connects)."""
        notes = []
        if not self.known:
            notes.append(
                f"Timelines could not tell this WAHA server's version ({self.version or 'none'}"
                "): files, group receipts and hidden numbers (LIDs) may not work."
            )
        if not self.sends_files:
            notes.append(self.file_refusal)
        if self._before(GROUP_ACKS_SINCE):
            notes.append(
                f"Messages sent to groups stay “sent”: group delivery and read receipts need "
                f"WAHA {dotted(GROUP_ACKS_SINCE)} or later."
            )
        if self._before(LIDS_SINCE):
            notes.append(
                "Contacts WhatsApp hides behind a LID (…@lid) cannot be turned into phone "
                f"numbers: that needs WAHA {dotted(LIDS_SINCE)} or later; their messages are "
                "skipped in direct chats and shown without a number in groups."
            )
        return notes

    @property
    def file_refusal(self):
        return (
            f"{self} cannot send files (sendFile came to WAHA Core in "
            f"{dotted(CORE_SESSIONS_AND_FILES_SINCE)}, or needs WAHA Plus): messages with a "
            "file fail at once and their credits are refunded. Upgrade WAHA to send files."
        )
