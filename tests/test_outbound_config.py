"""O1: the outbound webhook's configuration, its URL check and its command."""

import json
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from django_q.models import Schedule

from webhooks.outbound import dispatch
from webhooks.outbound.forms import OutboundWebhookForm
from webhooks.outbound.models import OutboundWebhook
from webhooks.outbound.tasks import ensure_schedules
from whatsapp.transports.simulator import SimulatorTransport


def command(*args):
    out = StringIO()
    call_command("outbound_webhook", *args, stdout=out)
    return json.loads(out.getvalue())


def test_it_starts_off_unaggregated_with_a_standard_webhooks_secret(workspace):
    webhook = OutboundWebhook.for_workspace(workspace)
    assert not webhook.enabled and webhook.granularity_value == "none"
    assert webhook.secret.startswith("whsec_") and len(webhook.secret) == 6 + 44


def test_it_refuses_a_url_that_is_not_http(workspace):
    webhook = OutboundWebhook.for_workspace(workspace)
    with pytest.raises(ValidationError, match="not an http"):
        webhook.configure(url="ftp://example.com/hook")
    webhook.refresh_from_db()
    assert webhook.url == ""


@override_settings(ALLOW_PRIVATE_URLS=False)
def test_it_refuses_a_private_address_when_saved(workspace):
    webhook = OutboundWebhook.for_workspace(workspace)
    for url in ["http://127.0.0.1:8000/hook", "http://10.1.2.3/", "http://localhost/x"]:
        with pytest.raises(ValidationError, match="private or reserved"):
            webhook.configure(url=url, enabled=True)
    form = OutboundWebhookForm({"url": "http://192.168.1.1/", "granularity": 0}, instance=webhook)
    assert not form.is_valid() and "private or reserved" in str(form.errors["url"])


@override_settings(ALLOW_PRIVATE_URLS=False)
def test_it_refuses_to_post_to_a_private_address_at_sending_time(outbound, receiver, account):
    # Saved while allowed (or a public name that now resolves to a private address).
    SimulatorTransport(account).receive(from_phone="+14151231234", text="x")
    dispatch.deliver_due()
    assert receiver.requests == []
    [attempt] = outbound.attempts.all()
    assert "private or reserved" in attempt.error and not attempt.succeeded


def test_it_cannot_be_enabled_without_a_url(workspace):
    webhook = OutboundWebhook.for_workspace(workspace)
    with pytest.raises(ValidationError, match="URL"):
        webhook.configure(enabled=True)


def test_it_rotates_the_secret(workspace):
    webhook = OutboundWebhook.for_workspace(workspace)
    old = webhook.secret
    assert webhook.rotate_secret() != old and webhook.secret.startswith("whsec_")


def test_the_form_saves_the_settings(workspace, receiver):
    webhook = OutboundWebhook.for_workspace(workspace)
    data = {"url": receiver.url, "granularity": 6, "enabled": "on"}
    form = OutboundWebhookForm(data, instance=webhook)
    assert form.is_valid(), form.errors
    form.save()
    webhook.refresh_from_db()
    assert (webhook.url, webhook.granularity, webhook.enabled) == (receiver.url, 6, True)
    assert webhook.window_end.hour % 6 == 0


def test_the_command_prints_the_settings(workspace):
    printed = command("Acme")
    assert set(printed) == {
        "url",
        "enabled",
        "granularity",
        "secret",
        "consecutive_failures",
        "window_end",
    }
    assert printed["granularity"] == "none" and printed["enabled"] is False


def test_the_command_changes_the_settings(workspace, receiver):
    printed = command(str(workspace.pk), "--url", receiver.url, "--granularity", "24", "--enable")
    assert printed["url"] == receiver.url and printed["enabled"] is True
    assert printed["granularity"] == "24"
    rotated = command("Acme", "--rotate-secret", "--disable", "--granularity", "none")
    assert rotated["secret"] != printed["secret"] and rotated["enabled"] is False
    assert rotated["granularity"] == "none"


@pytest.mark.parametrize(
    "args, message",
    [
        (["Nope"], "No workspace"),
        (["Acme", "--url", "gopher://x"], "not an http"),
        (["Acme", "--enable"], "URL"),
        (["Acme", "--granularity", "5"], "invalid choice"),
        (["Acme", "--enable", "--disable"], "not allowed with"),
    ],
)
def test_the_command_reports_bad_arguments_in_one_line(workspace, args, message):
    with pytest.raises(CommandError, match=message) as caught:
        command(*args)
    assert "\n" not in str(caught.value)


def test_the_tick_is_scheduled_after_migrate(db):
    schedule = Schedule.objects.get(func="webhooks.outbound.tasks.tick")
    assert schedule.schedule_type == Schedule.MINUTES and schedule.minutes == 1
    ensure_schedules()  # idempotent
    assert Schedule.objects.filter(func="webhooks.outbound.tasks.tick").count() == 1


def test_saving_an_enabled_webhook_keeps_its_failure_count(outbound):
    OutboundWebhook.objects.filter(pk=outbound.pk).update(consecutive_failures=4)
    outbound.configure(granularity=6, enabled=True)
    assert outbound.consecutive_failures == 4 and outbound.enabled


def test_an_enabled_webhook_keeps_a_url(outbound):
    with pytest.raises(ValidationError, match="needs a URL"):
        outbound.configure(url="")
    outbound.configure(url="", enabled=False)
    assert outbound.url == "" and not outbound.enabled


def test_the_refusal_of_a_local_url_is_one_short_sentence_without_operator_advice(
    settings, workspace
):
    webhook = OutboundWebhook.for_workspace(workspace)
    settings.ALLOW_PRIVATE_URLS = False
    for debug in (True, False):
        settings.DEBUG = debug
        with pytest.raises(ValidationError) as refused:
            webhook.configure(url="http://127.0.0.1:9/hook")
        [said] = refused.value.messages
        assert said == (
            "This URL cannot be used: 127.0.0.1 is a private or reserved address; "
            "only public addresses are allowed."
        )
