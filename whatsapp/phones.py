"""Phone numbers: validated and normalised to E.164 with `phonenumbers`."""

from functools import lru_cache

import phonenumbers


class InvalidPhone(ValueError):
    pass


@lru_cache(maxsize=4096)
def _normalized(text):
    try:
        parsed = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone(f"'{text}' is not a valid phone number ({exc}).") from None
    # "Possible" (right length for its country) rather than "valid": number plans change faster
    # than the library, and the seed's own example (+1 415 123-1234) is not in an assigned range.
    if not phonenumbers.is_possible_number(parsed):
        raise InvalidPhone(f"'{text}' is not a valid phone number: it has the wrong length.")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalize_phone(value):
    """'+1 (415) 123-1234' -> '+14151231234'; InvalidPhone unless a valid international number.

    Only international notation is accepted: without a country code there is no way to tell which
    country a number belongs to.
    """
    text = str(value or "").strip()
    if not text.startswith("+"):
        raise InvalidPhone(
            f"'{value}' is not an international phone number: write it as +<country><number>, "
            "e.g. +14151231234."
        )
    # Cached: parsing is the slow part of checking a request, and integrators send the same few
    # numbers (their account's above all) again and again.
    return _normalized(text)


def phone_from_digits(digits):
    """The E.164 form of a JID's user part, or '' when the digits are not a valid number."""
    try:
        return normalize_phone("+" + str(digits))
    except InvalidPhone:
        return ""
