"""The one email of a v2 endpoint: it was switched off after too many errors (W4)."""

from django.core.mail import send_mail
from django.template.loader import render_to_string

from timelines.site import manage_command, site_url
from webhooks.endpoints.models import Endpoint
from webhooks.outbound.models import Delivery


def send_disabled_email(endpoint_id):
    endpoint = Endpoint.objects.select_related("workspace__owner").get(pk=endpoint_id)
    owner = endpoint.workspace.owner
    if not owner.email:
        return
    attempt = endpoint.attempts.filter(succeeded=False).order_by("-pk").first()
    context = {
        "endpoint": endpoint,
        "workspace": endpoint.workspace,
        "last_error": attempt.error if attempt else "unknown",
        "page_url": f"{site_url()}/w/{endpoint.workspace_id}/integrations/webhooks/{endpoint.pk}/",
        "pending": endpoint.deliveries.filter(state=Delivery.PENDING).count(),
        "command": manage_command("webhooks_v2", endpoint.workspace_id, "--enable", endpoint.pk),
    }
    subject = render_to_string("endpoints/email/disabled_subject.txt", context).strip()
    body = render_to_string("endpoints/email/disabled_body.txt", context)
    send_mail(subject, body, None, [owner.email])
