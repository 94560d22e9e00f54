"""The one email of the outbound webhook: it was switched off after too many errors (O6)."""

from django.core.mail import send_mail
from django.template.loader import render_to_string

from timelines.site import manage_command, site_url
from webhooks.outbound.models import Delivery, OutboundWebhook


def send_disabled_email(webhook_id):
    webhook = OutboundWebhook.objects.select_related("workspace__owner").get(pk=webhook_id)
    owner = webhook.workspace.owner
    if not owner.email:
        return
    context = {
        "webhook": webhook,
        "workspace": webhook.workspace,
        "last_error": _last_error(webhook),
        # The Outbound page (the team's agreed address for it).
        "page_url": f"{site_url()}/w/{webhook.workspace_id}/integrations/outbound/",
        "pending": webhook.deliveries.filter(state=Delivery.PENDING).count(),
        "command": manage_command("outbound_webhook", webhook.workspace_id, "--enable"),
    }
    subject = render_to_string("outbound/email/disabled_subject.txt", context).strip()
    body = render_to_string("outbound/email/disabled_body.txt", context)
    send_mail(subject, body, None, [owner.email])


def _last_error(webhook):
    attempt = webhook.attempts.filter(succeeded=False).order_by("-pk").first()
    return attempt.error if attempt else "unknown"
