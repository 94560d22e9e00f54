"""Both webhook pages say how many deliveries are pending and when the next retry is due, so an
owner whose receiver blipped sees that the messages are waiting, and until when."""

from datetime import timedelta

from django.utils import timezone

from webhooks.endpoints.models import Endpoint
from webhooks.outbound.models import Delivery, OutboundWebhook

RECEIVER = "http://127.0.0.1:9/hook"


def _pending(chat, retry_at, **target):
    Delivery.objects.create(kind=Delivery.MESSAGE, chat=chat, body="{}", **target)
    Delivery.objects.create(
        kind=Delivery.MESSAGE, chat=chat, body="{}", attempts=1, next_attempt_at=retry_at, **target
    )


def test_the_outbound_page_shows_the_pending_deliveries_and_the_next_retry(
    client, owner, workspace, chat
):
    webhook = OutboundWebhook.for_workspace(workspace)
    page = f"/w/{workspace.pk}/integrations/outbound/"
    client.force_login(owner)
    assert "nothing pending" in client.get(page).content.decode()
    retry_at = timezone.now() + timedelta(seconds=10)
    _pending(chat, retry_at, webhook=webhook)
    html = client.get(page).content.decode()
    assert "2 pending · next retry" in html and retry_at.strftime("%H:%M:%S UTC") in html


def test_the_webhooks_v2_pages_show_each_endpoints_pending_deliveries_and_next_retry(
    client, owner, workspace, chat
):
    endpoint = Endpoint.create(workspace, url=RECEIVER, event_type="message:new")
    retry_at = timezone.now() + timedelta(minutes=1)
    _pending(chat, retry_at, endpoint=endpoint)
    client.force_login(owner)
    when = retry_at.strftime("%H:%M:%S UTC")
    listing = client.get(f"/w/{workspace.pk}/integrations/webhooks/").content.decode()
    assert f'title="next retry {when}">2 pending' in listing
    detail = f"/w/{workspace.pk}/integrations/webhooks/{endpoint.pk}/"
    html = client.get(detail).content.decode()
    assert "2 pending · next retry" in html and when in html
