"""One site URL everywhere: the address `make run ADDR=…` recorded (manage.py demo --site-url)
is used by every process, commands in another shell included; SITE_URL from the environment
wins."""

import json

import pytest
from django.core.management import call_command

from timelines import site
from webhooks.inbound.models import InboundWebhook


@pytest.fixture
def no_site_url(settings):
    settings.SITE_URL = ""  # as in development, where the environment does not set it
    site._cache["url"] = None
    yield
    site._cache["url"] = None


@pytest.mark.parametrize(
    "address, url",
    [
        ("127.0.0.1:8011", "http://127.0.0.1:8011"),
        ("8011", "http://127.0.0.1:8011"),
        ("0.0.0.0:8000", "http://127.0.0.1:8000"),
        ("[::]:8000", "http://[::1]:8000"),
        ("https://timelines.example.com/", "https://timelines.example.com"),
    ],
)
def test_it_turns_a_runserver_address_into_a_url(address, url):
    assert site.url_of_address(address) == url


def test_it_defaults_to_port_8000(db, no_site_url):
    assert site.site_url() == "http://127.0.0.1:8000"


def test_the_recorded_address_reaches_every_link(db, no_site_url, chat, workspace, capsys):
    call_command("demo", "--site-url", "127.0.0.1:8011")
    assert "open http://127.0.0.1:8011/ and sign in" in capsys.readouterr().out
    assert chat.chat_url == f"http://127.0.0.1:8011/chat/{chat.pk}/messages/"
    assert InboundWebhook.for_workspace(workspace).url.startswith("http://127.0.0.1:8011/")
    call_command("inbound_webhook", "Demo")
    printed = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert printed["url"].startswith("http://127.0.0.1:8011/webhooks/inbound/")


def test_site_url_from_the_environment_wins(db, settings, chat):
    site.remember("127.0.0.1:8011")
    settings.SITE_URL = "https://timelines.example.com"
    assert chat.chat_url.startswith("https://timelines.example.com/chat/")
