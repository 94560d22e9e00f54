"""The operations page (SPEC H3) fits a 1280-pixel laptop screen with a busy day on it: long
errors and holders wrap inside their columns instead of pushing the page sideways."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from tests.browser.conftest import sign_in, snap
from timelines import workers
from whatsapp import sender
from whatsapp.models import Chat
from whatsapp.outbox import queue_message

pytestmark = pytest.mark.browser


@pytest.fixture
def busy(db, settings):
    settings.DEMO_PASSWORD = "demo-pass-123"
    call_command("demo")
    chat = Chat.objects.get(name="Team")
    message = queue_message(chat, text="A fairly long line of text " * 4, origin="web")
    sender.drain_now()
    message.refresh_from_db()
    workers.beat(message.queued_at)
    workers.take("sender-dispatcher-1", 60)
    for n in range(3):
        queue_message(chat, text=f"waiting {n}", origin="web")
    return get_user_model().objects.get(username="owner")


def test_the_operations_page_fits_a_laptop_screen(page, busy):
    sign_in(page, "owner", "demo-pass-123")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto("/admin/operations/")
    assert page.locator("#workers").count() == 1
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    snap(page, "admin-operations")
    assert overflow <= 0
