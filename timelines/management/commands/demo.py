"""Seed a database with demo data to try the product on, and say what to try.

Idempotent: every step looks for what it would create first, so a second run changes nothing
(`make run` runs it on every start, with --site-url set to its ADDR). The demo seeds every app,
so like urls.py it sits above them and may import them all.

To add a step (a feature's demo data): write a method that creates its rows only when missing,
and call it from `run` where marked. What to try is in docs/owners.md, not printed here: the
banner stays short enough to be seen.
"""

import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.urls import reverse

from credits.models import LedgerEntry, grant
from timelines import demo_conversation, site
from timelines.commands import TimelinesCommand
from timelines.models import Workspace
from whatsapp.models import Account, Chat

USERNAME = "owner"
EMAIL = "owner@example.com"
WORKSPACE = "Demo"
ACCOUNT_PHONE = "+15105566777"
CONTACT = ("+14151231234", "John Doe")
GROUP = ("120363000000000000@g.us", "Team")
CREDITS = 100


class Command(TimelinesCommand):
    help = (
        "Create the demo user, workspace, simulator account, chats and credits (idempotent), "
        "and print where to sign in."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--site-url",
            help="the address the server runs on (as given to runserver, e.g. 127.0.0.1:8011, or "
            "a URL): every link printed or shown uses it, unless SITE_URL is set",
        )
        parser.add_argument(
            "--reset-password",
            action="store_true",
            help="give the demo owner a new password (DEMO_PASSWORD, else a generated one)",
        )

    def run(self, *, site_url=None, reset_password=False, **options):
        if site_url:
            site.remember(site_url)
        with transaction.atomic():
            owner, password = self.owner(reset_password)
            workspace = self.demo_workspace(owner)
            account = self.account(workspace, owner)
            chat, _ = self.chats(account)
            self.credits(workspace)
            demo_conversation.seed(account, chat)
            # Further steps (a feature's demo data) go here.
        self.say(self.banner(password))

    def owner(self, reset=False):
        """The demo owner and its password as far as it can be shown (None when unknown).

        The password comes from DEMO_PASSWORD when set (applied to an existing owner too), else
        it is generated once and kept in DEMO_PASSWORD_FILE (git-ignored) to be shown again.
        """
        user = get_user_model().objects.filter(username=USERNAME).first()
        wanted = settings.DEMO_PASSWORD or None
        if user is None:
            password = wanted or secrets.token_urlsafe(12)
            # A superuser, so that the admin (inject messages, grant credits) can be tried with
            # the same sign-in.
            user = get_user_model().objects.create_superuser(
                USERNAME, EMAIL, password, first_name="Demo", last_name="Owner"
            )
        elif reset or (wanted and not user.check_password(wanted)):
            password = wanted or secrets.token_urlsafe(12)
            user.set_password(password)
            user.save(update_fields=["password"])
        else:
            password = wanted or _kept_password()
            if password and not user.check_password(password):
                password = None  # changed since (in the admin): not ours to show
        if not wanted and password:
            _keep_password(password)
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

    def credits(self, workspace):
        # Only a workspace that never had credits gets the demo's: a second run, or a demo
        # workspace whose credits were spent, must not be topped up behind the admin's back.
        if not LedgerEntry.objects.filter(workspace=workspace).exists():
            grant(workspace, CREDITS, reason="Demo credits")

    def banner(self, password):
        """Where to sign in, with what, and where development emails go: a few lines that stay
        visible above the server's own."""
        base = site.site_url()
        if password is None:
            secret = "(changed since; set a new one: manage.py demo --reset-password)"
        else:
            secret = password
        return "\n".join(
            [
                "",
                f"  Timelines: open {base}/ and sign in as {USERNAME}, password {secret}",
                f"  Admin:     {base}{reverse('admin:index')} (same sign-in)",
                f"  Emails:    {_where_emails_go()}",
                f"  Receivers: {_which_receivers()}",
                "  Read on:   README.md, then docs/owners.md for what to try",
                "",
            ]
        )


def _which_receivers():
    """Whether a webhook or file_url may point at this machine (a local receiver)."""
    if settings.ALLOW_PRIVATE_URLS:
        return "webhooks may point at this machine (http://127.0.0.1:…): development only"
    return "public URLs only (private and local addresses are refused)"


def _kept_password():
    path = Path(settings.DEMO_PASSWORD_FILE)
    return path.read_text().strip() if path.is_file() else None


def _keep_password(password):
    path = Path(settings.DEMO_PASSWORD_FILE)
    if path.is_file() and path.read_text().strip() == password:
        return
    path.write_text(password + "\n")
    path.chmod(0o600)


def _where_emails_go():
    backend = settings.EMAIL_BACKEND.rsplit(".", 2)[-2]
    if backend == "console":
        return "printed in this console (set EMAIL_URL to send them)"
    if backend == "filebased":
        return f"written to {settings.EMAIL_FILE_PATH}"
    if backend == "locmem":
        return "kept in memory (tests)"
    return f"sent through {settings.EMAIL_HOST or 'the configured backend'}"
