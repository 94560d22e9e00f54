"""The admin's change lists show their columns on a 1280-pixel laptop screen, without scrolling
sideways to find the key ones."""

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse

from tests.browser.conftest import sign_in, snap
from whatsapp import sender
from whatsapp.models import Chat
from whatsapp.outbox import queue_message

pytestmark = pytest.mark.browser


def _lists():
    for model in admin.site._registry:
        opts = model._meta
        yield f"{opts.app_label}.{opts.model_name}", (opts.app_label, opts.model_name)


@pytest.fixture
def demo(db, settings):
    settings.DEMO_PASSWORD = "demo-pass-123"
    call_command("demo")
    call_command("outbound_webhook", "Demo", "--url", "http://127.0.0.1:9/hook", "--enable")
    chat = Chat.objects.get(name="Team")
    message = queue_message(chat, text="A fairly long line of text " * 4, origin="web")
    message.error = "Something went wrong while sending, with a long explanation " * 2
    message.save()
    sender.drain_now()
    return get_user_model().objects.get(username="owner")


def test_every_change_list_fits_a_laptop_screen(page, demo):
    sign_in(page, "owner", "demo-pass-123")
    too_wide = {}
    for name, (app_label, model_name) in sorted(_lists()):
        page.goto(reverse(f"admin:{app_label}_{model_name}_changelist"))
        overflow = page.evaluate(
            "() => { const r = document.querySelector('#changelist .results');"
            " return r ? r.scrollWidth - r.clientWidth : 0; }"
        )
        if overflow > 0:
            too_wide[name] = overflow
            snap(page, f"admin-too-wide-{name}")
    assert too_wide == {}
    page.goto(reverse("admin:whatsapp_message_changelist"))  # the busiest, for the screenshot
