"""Settings that must not reach production: a missing SECRET_KEY stops the process, a local
SITE_URL is reported by `manage.py check`."""

from django.core.checks import run_checks
from django.test import override_settings

from tests.processes import manage


def test_it_refuses_to_start_without_secret_key_when_debug_is_off():
    done = manage("check", DEBUG="false")
    assert done.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in done.stderr


def test_a_command_says_so_in_one_line_without_a_traceback():
    done = manage("inbound_webhook", "Demo")  # neither DEBUG nor SECRET_KEY
    assert done.returncode == 1
    assert done.stderr.startswith("Error: SECRET_KEY must be set when DEBUG is off.")
    assert len(done.stderr.strip().splitlines()) == 1 and "DEBUG=true" in done.stderr


def test_it_starts_without_secret_key_in_debug_mode():
    assert manage("check", DEBUG="true").returncode == 0


def test_it_warns_about_a_local_site_url_when_debug_is_off():
    with override_settings(DEBUG=False, SITE_URL="http://127.0.0.1:8000"):
        assert [w.id for w in run_checks()] == ["timelines.W001"]
    with override_settings(DEBUG=False, SITE_URL="https://timelines.example.com"):
        assert run_checks() == []
    with override_settings(DEBUG=True, SITE_URL="http://127.0.0.1:8000"):
        assert run_checks() == []
