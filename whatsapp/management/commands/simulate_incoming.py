"""Store a received message through the simulator, as if a contact had written to an account."""

from pathlib import Path

from django.core.management.base import CommandError

from timelines.commands import TimelinesCommand
from whatsapp.models import Account
from whatsapp.phones import normalize_phone
from whatsapp.transports import TransportError
from whatsapp.transports.simulator import simulator_for


class Command(TimelinesCommand):
    help = (
        "Store a message received by a simulator account (creating the chat if needed) and "
        'print {"message_id": ..., "chat_id": ...}.'
    )
    user_errors = TimelinesCommand.user_errors + (TransportError,)

    def add_arguments(self, parser):
        parser.add_argument(
            "--account", required=True, help="the account's phone, e.g. +15105566777"
        )
        parser.add_argument("--from", dest="from_phone", required=True, help="the sender's phone")
        parser.add_argument("--name", default="", help="the sender's name")
        parser.add_argument("--group", default="", help="a group chat's name (created if needed)")
        parser.add_argument("--text", default="")
        parser.add_argument("--file", default="", help="a local file the message carries")
        parser.add_argument(
            "--workspace", help="name or id, when several workspaces have the phone"
        )

    def run(self, *, account, from_phone, name, group, text, file, workspace, **options):
        # Arguments first, the database after: a typo is reported the same on any database.
        if not text.strip() and not file:
            raise CommandError("Give --text, --file or both.")
        if file and not Path(file).is_file():
            raise CommandError(f"--file {file}: no such file.")
        from_phone = normalize_phone(from_phone)
        found = self.account(account, workspace)
        message = simulator_for(found).receive(
            from_phone=from_phone, text=text, name=name, group=group, file=file or None
        )
        return {"message_id": message.message_id, "chat_id": message.chat.chat_id}

    def account(self, phone, workspace_ref):
        accounts = Account.objects.filter(phone=normalize_phone(phone))
        if workspace_ref:
            accounts = accounts.filter(workspace=self.workspace(workspace_ref))
        found = list(accounts[:2])
        if not found:
            raise CommandError(f"No WhatsApp account with the phone {phone}.")
        if len(found) > 1:
            raise CommandError(f"Several workspaces have the account {phone}: add --workspace.")
        return found[0]
