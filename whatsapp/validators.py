"""Validators of the app's model fields (named by its migrations through whatsapp.models)."""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError

from whatsapp.phones import InvalidPhone, normalize_phone


def validate_phone(value):
    try:
        normalize_phone(value)
    except InvalidPhone as exc:
        raise ValidationError(str(exc)) from None


def validate_time_zone(value):
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"'{value}' is not a time zone (e.g. Europe/Warsaw).") from None
