"""account_policy PHONE [--new-contacts-per-day N|none] [--quiet-hours HH:MM-HH:MM|none]
[--timezone Area/City] [--check-numbers on|off] [--pause | --resume] [--workspace W]:
changes the governor's policy of a WhatsApp account (SPEC G1) and prints it as one line of
JSON."""

from django.core.management.base import CommandError
from django.utils import timezone

from timelines.commands import TimelinesCommand
from whatsapp.governor import pauses, policy
from whatsapp.models import PAUSE_ALL, Account
from whatsapp.phones import normalize_phone


class Command(TimelinesCommand):
    help = "Show or change a WhatsApp account's sending policy (caps, quiet hours, pause)."

    def add_arguments(self, parser):
        parser.add_argument("phone", help="the account's phone number, e.g. +14151231234")
        parser.add_argument("--new-contacts-per-day", help="a number, or none for no cap")
        parser.add_argument("--quiet-hours", help="HH:MM-HH:MM in the account's zone, or none")
        parser.add_argument("--timezone", help="the account's time zone, e.g. Europe/Warsaw")
        parser.add_argument("--check-numbers", choices=["on", "off"])
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--pause", action="store_true", help="stop all sending until resumed")
        group.add_argument("--resume", action="store_true", help="end a pause now")
        parser.add_argument("--workspace", help="name or id, when the number is in several")

    def run(self, *, phone, workspace, pause, resume, **options):
        account = self.account(phone, workspace)
        changes = self.changes(options)
        if changes:
            policy.set_policy(account, **changes)
        if pause:
            pauses.pause(account.pk, PAUSE_ALL, None, pauses.OWNER_PAUSE, by_owner=True)
        if resume:
            pauses.resume(account.pk)
        account.refresh_from_db()
        return policy.describe(account, timezone.now())

    def account(self, phone, workspace):
        accounts = Account.objects.filter(phone=normalize_phone(phone))
        if workspace:
            accounts = accounts.filter(workspace=self.workspace(workspace))
        found = list(accounts[:2])
        if not found:
            raise CommandError(f"No WhatsApp account {phone}.")
        if len(found) > 1:
            raise CommandError(f"{phone} is an account of several workspaces: add --workspace.")
        return found[0]

    def changes(self, options):
        changes = {}
        cap = options["new_contacts_per_day"]
        if cap is not None:
            changes["new_contacts_per_day"] = None if cap.lower() == "none" else cap_value(cap)
        if options["quiet_hours"] is not None:
            changes["quiet_from"], changes["quiet_to"] = policy.parse_quiet_hours(
                options["quiet_hours"]
            )
        if options["timezone"] is not None:
            zone = options["timezone"]
            changes["time_zone"] = "UTC" if zone.lower() == "none" else zone
        if options["check_numbers"] is not None:
            changes["check_numbers"] = options["check_numbers"] == "on"
        return changes


def cap_value(text):
    if not text.isdigit():
        raise CommandError(f"--new-contacts-per-day must be a number or none, not '{text}'.")
    return int(text)
