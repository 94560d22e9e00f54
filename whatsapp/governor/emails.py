"""The one email of a pause (SPEC G3): the owner learns that the account stopped sending, why,
until when, and how to resume."""

from django.core.mail import send_mail
from django.template.loader import render_to_string

from timelines.site import manage_command, site_url
from whatsapp.models import Account


def send_paused_email(account_id):
    account = Account.objects.select_related("workspace__owner").get(pk=account_id)
    owner = account.workspace.owner
    if not owner.email or not account.paused:
        return
    context = {
        "account": account,
        "workspace": account.workspace,
        "scope": "messages to new contacts" if account.paused == "new_contacts" else "all sending",
        "page_url": f"{site_url()}/w/{account.workspace_id}/accounts/",
        "command": manage_command("account_policy", account.phone, "--resume"),
    }
    subject = render_to_string("whatsapp/email/paused_subject.txt", context).strip()
    body = render_to_string("whatsapp/email/paused_body.txt", context)
    send_mail(subject, body, None, [owner.email])
