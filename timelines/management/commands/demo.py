"""Seed a database with demo data to try the product on, and say what to try.

Idempotent: every step looks for what it would create first, so a second run changes nothing
(`make run` runs it on every start). The demo seeds every app, so like urls.py it sits above them
and may import them all.

To add a step (a feature's demo data): write a method that creates its rows only when missing and
returns the lines to print under "Try", then call it from `run` where marked.
"""

import json
import os
import secrets
import shlex

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.urls import reverse

from credits.models import LedgerEntry, grant
from timelines.commands import TimelinesCommand
from timelines.models import Workspace
from webhooks.inbound.models import InboundWebhook
from whatsapp.models import Account, Chat

USERNAME = "owner"
EMAIL = "owner@example.com"
WORKSPACE = "Demo"
ACCOUNT_PHONE = "+15105566777"
CONTACT = ("+14151231234", "John Doe")
GROUP = ("120363000000000000@g.us", "Team")
CREDITS = 100


class Command(TimelinesCommand):
    help = "Create the demo user, workspace, simulator account, chats and credits (idempotent)."

    def run(self, **options):
        with transaction.atomic():
            owner, password = self.owner()
            workspace = self.demo_workspace(owner)
            account = self.account(workspace, owner)
            chat, group = self.chats(account)
            tries = [
                *self.sign_in(password),
                *self.credits(workspace),
                *self.simulate(account, chat, group),
                *self.inbound_webhook(workspace),
                # Further steps go here.
            ]
        self.say("Demo data is ready.\n\nTry:\n" + "\n".join(f"- {line}" for line in tries))

    def owner(self):
        """The demo owner and, only when just created, its password (else None)."""
        user = get_user_model().objects.filter(username=USERNAME).first()
        if user:
            return user, None
        password = os.environ.get("DEMO_PASSWORD") or secrets.token_urlsafe(12)
        # A superuser, so that the admin (inject messages, grant credits) can be tried with the
        # same sign-in.
        user = get_user_model().objects.create_superuser(
            USERNAME, EMAIL, password, first_name="Demo", last_name="Owner"
        )
        return user, password

    def demo_workspace(self, owner):
        workspace = Workspace.objects.filter(name=WORKSPACE).first()
        return workspace or Workspace.create_for(owner, WORKSPACE)

    def account(self, workspace, owner):
        account, created = Account.objects.get_or_create(
            workspace=workspace,
            phone=ACCOUNT_PHONE,
            defaults={"connected_by": owner, "transport": "simulator"},
        )
        if created:
            account.mark_connected()
        return account

    def chats(self, account):
        chat, _ = Chat.get_or_create_direct(account, *CONTACT)
        group, _ = Chat.get_or_create_group(account, *GROUP)
        return chat, group

    def sign_in(self, password):
        login = settings.SITE_URL + reverse("login")
        if password is None:
            secret = "the password printed when it was created (or set in the admin)"
        elif os.environ.get("DEMO_PASSWORD"):
            secret = "the password from DEMO_PASSWORD"
        else:
            secret = f"password {password}"
        return [
            f"Sign in at {login} as {USERNAME} with {secret}.",
            f"The admin is at {settings.SITE_URL}{reverse('admin:index')} (same sign-in).",
        ]

    def credits(self, workspace):
        # Only a workspace that never had credits gets the demo's: a second run, or a demo
        # workspace whose credits were spent, must not be topped up behind the admin's back.
        if not LedgerEntry.objects.filter(workspace=workspace).exists():
            grant(workspace, CREDITS, reason="Demo credits")
        url = settings.SITE_URL + reverse("credits:index", args=[workspace.pk])
        return [f"The workspace {WORKSPACE} has message credits: {url}"]

    def simulate(self, account, chat, group):
        # Typed in another shell, where make's DEBUG=true is not set.
        manage = ("DEBUG=true " if settings.DEBUG else "") + ".venv/bin/python manage.py"
        direct = (
            f"{manage} simulate_incoming --account {account.phone} --from {chat.phone} "
            f'--name "{chat.name}" --text "Hello from John"'
        )
        in_group = (
            f"{manage} simulate_incoming --account {account.phone} --from {chat.phone} "
            f'--name "{chat.name}" --group "{group.name}" --text "Hi team"'
        )
        return [
            f"Receive a message from {chat.name}: {direct}",
            f"Receive one in the group {group.name}: {in_group}",
            f"Read them at {chat.chat_url} and {group.chat_url}",
            "Numbers ending in 0000 fail to send (the simulator's 'not on WhatsApp').",
        ]

    def inbound_webhook(self, workspace):
        """The workspace's inbound URL and a curl line that sends the seed's Example 1 to it."""
        webhook = InboundWebhook.for_workspace(workspace)
        example_1 = {
            "action": "send",
            "whatsapp account phone": ACCOUNT_PHONE,
            "phone": CONTACT[0],
            "text": "lorem ipsum",
        }
        curl = (
            f"curl -sS -X POST {shlex.quote(webhook.url)} -H 'Content-Type: application/json' "
            f"-d {shlex.quote(json.dumps(example_1))}"
        )
        return [
            f"The inbound webhook's URL is {webhook.url}",
            f"Send a WhatsApp message through it (the seed's Example 1): {curl}",
        ]
