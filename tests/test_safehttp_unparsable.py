"""P1: a URL that does not parse is never a 500 nor a retried "temporary" error. One function,
safehttp.parse_url, says what is wrong; the owner's page shows it as a form error, the CLI as one
line, a WAHA event stores its message without the attachment, and the sender fails the message
for good and refunds it at once."""

import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from credits.models import Balance, grant
from tests.fake_waha import fixture
from timelines import safehttp, urlguard
from webhooks.outbound.forms import OutboundWebhookForm
from webhooks.outbound.models import OutboundWebhook
from whatsapp.models import Message
from whatsapp.outbox import queue_message

UNPARSABLE = [
    ("http://[::1", "not a valid URL"),
    ("http://[::1/file.pdf", "not a valid URL"),
    ("http://[::1]:99999/", "invalid port"),
    ("http://example.com:65536/x", "invalid port"),
    ("http://example.com:0/x", "invalid port"),
    ("http://example.com:port/x", "invalid port"),
    ("http://example.com:-1/x", "invalid port"),
    ("http://:80/", "no host"),
    ("http://", "no host"),
    ("http:///file.pdf", "no host"),
    ("http://[zz::1]/", "not a valid URL"),
    ("http://[1.2.3.4]/", "not a valid URL"),
    ("http://[::1%25eth0]/", "invalid IPv6"),
    ("http://exa mple.com/", "spaces"),
    ("http://example.com/\r\nX-Injected: 1", "control characters"),
    (" http://example.com/", "spaces"),
    ("ftp://example.com/file", "not an http(s) URL"),
    ("javascript:alert(1)", "not an http(s) URL"),
    ("example.com/file.pdf", "not an http(s) URL"),
    ("not a url", "is not an http(s) URL: it must start with http:// or https://"),
    ("", "empty"),
    ("http://0x7f.1/", "four decimal numbers"),
    ("http://a..b/", "invalid host name"),
    ("http://" + "a" * 64 + ".example/", "invalid host name"),
]


@pytest.fixture
def no_network(monkeypatch):
    """The guard's one resolver fails the test if called: without a lookup there is no checked
    address, so nothing can be sent either."""

    def refuse(*args, **kwargs):
        raise AssertionError("no lookup or connection may happen for an unparsable URL")

    monkeypatch.setattr(urlguard, "_resolve", refuse)


@pytest.mark.parametrize("allowed", [True, False])
@pytest.mark.parametrize("url, problem", UNPARSABLE)
def test_it_says_what_is_wrong_with_an_unparsable_url(url, problem, allowed, settings, no_network):
    settings.ALLOW_PRIVATE_URLS = allowed
    for check in (safehttp.parse_url, safehttp.check_url):
        with pytest.raises(safehttp.InvalidURL, match=re.escape(problem)):
            check(url)
    with pytest.raises(safehttp.InvalidURL, match=re.escape(problem)):
        safehttp.request("GET", url)


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com",
        "https://example.com:65535/a?b=c#d",
        "http://[2606:4700::1111]:8080/x",
        "http://localhost:3000/api/files/default/false_1@c.us_3EB0.pdf",
        "https://bücher.example/datei.pdf",
        "HTTPS://EXAMPLE.COM/Report.PDF",
    ],
)
def test_it_returns_a_url_that_parses_unchanged(url, no_network):
    assert safehttp.parse_url(url) == url


def test_it_is_a_form_error_on_the_outbound_page(client, owner, workspace):
    webhook = OutboundWebhook.for_workspace(workspace)
    for url, problem in [("http://[::1", "not a valid URL"), ("http://x.example:99999/", "port")]:
        form = OutboundWebhookForm({"url": url, "granularity": 0}, instance=webhook)
        assert not form.is_valid() and problem in str(form.errors["url"])
    client.force_login(owner)
    page = f"/w/{workspace.pk}/integrations/outbound/"
    response = client.post(page, {"url": "http://[::1", "granularity": "0", "enabled": "1"})
    assert response.status_code == 400
    assert "This URL cannot be used" in response.content.decode()
    webhook.refresh_from_db()
    assert webhook.url == "" and not webhook.enabled


@pytest.mark.parametrize("url", ["http://[::1", "http://x.example:70000/hook", "http://:80/"])
def test_it_is_a_one_line_command_error_in_the_cli(url, workspace):
    with pytest.raises(CommandError) as error:
        call_command("outbound_webhook", workspace.name, "--url", url, stdout=StringIO())
    message = str(error.value)
    assert "\n" not in message and "This URL cannot be used" in message
    assert OutboundWebhook.objects.get(workspace=workspace).url == ""


def test_it_is_a_form_error_when_connecting_waha(client, owner, workspace):
    client.force_login(owner)
    response = client.post(
        f"/w/{workspace.pk}/accounts/connect/",
        {"base_url": "http://127.0.0.1:99999", "session": "default"},
    )
    assert response.status_code in (200, 400)
    assert "invalid port" in response.content.decode()


@pytest.mark.parametrize("url", ["http://[::1", "http://localhost:99999/f.pdf", "http://:80/f"])
def test_a_waha_event_with_an_unparsable_media_url_is_stored_without_it(
    url, post_event, waha_account
):
    event = fixture("message_any_media")
    event["payload"]["media"]["url"] = url
    response = post_event(event)
    assert response.status_code == 200 and response.json() == {"status": "stored"}
    message = Message.objects.get()
    assert message.text == "The invoice" and message.attachment_url == ""


@pytest.mark.parametrize("url", ["http://[::1/invoice.pdf", "http://files.example:99999/x.pdf"])
def test_the_sender_fails_and_refunds_an_unparsable_file_url_at_once(
    url, chat, no_network, django_capture_on_commit_callbacks
):
    from whatsapp.sender import drain_now

    grant(chat.account.workspace, 10, "test credits")
    with django_capture_on_commit_callbacks(execute=True):  # wakes the sender
        queued = queue_message(
            chat,
            text="Invoice",
            attachment_url=url,
            attachment_name="x.pdf",
            origin=Message.ORIGIN_API,
        )
    assert Balance.of(chat.account.workspace) == 8
    drain_now()
    message = Message.objects.get(pk=queued.pk)
    assert message.status == Message.FAILED, message.error
    assert "not a valid URL" in message.error or "invalid port" in message.error
    assert "Gave up" not in message.error and "Temporary" not in message.error
    assert message.send_attempts <= 1
    assert Balance.of(chat.account.workspace) == 10


def test_the_waha_connect_form_still_explains_trusted_urls_for_a_private_one(settings):
    from whatsapp.waha_connect import ConnectForm

    settings.ALLOW_PRIVATE_URLS = False
    settings.WAHA_TRUSTED_URLS = []
    form = ConnectForm({"base_url": "http://127.0.0.1:3000", "session": "default"})
    assert not form.is_valid() and "WAHA_TRUSTED_URLS" in str(form.errors["base_url"])


def test_not_a_url_gets_a_plain_answer_on_the_webhooks_v2_page(client, owner, workspace):
    client.force_login(owner)
    page = f"/w/{workspace.pk}/integrations/webhooks/"
    response = client.post(page, {"url": "not a url", "event_type": "message:new"})
    html = response.content.decode()
    assert response.status_code == 400
    assert "This URL cannot be used: &#x27;not a url&#x27; is not an http(s) URL" in html
    assert "percent-encode" not in html
