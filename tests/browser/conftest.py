"""A real Chromium, driven by Playwright, against the app served by pytest-django's live server.

Debian's chromium is used (Playwright's own download does not work on our machines). Without it
the browser tests skip with the reason, so `make test` passes anywhere; CI sets REQUIRE_BROWSER=1
and a missing Chromium is then a failure.
"""

import os
import re
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def _missing_browser(reason):
    if os.environ.get("REQUIRE_BROWSER"):
        pytest.fail(f"REQUIRE_BROWSER is set but {reason}")
    pytest.skip(f"{reason}; install Debian's chromium (apt-get install chromium) to run them")


@pytest.fixture(scope="session")
def chromium():
    if not os.access(CHROMIUM, os.X_OK):
        _missing_browser(f"no Chromium at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing_browser("Playwright for Python is not installed")
    # Playwright's sync API runs an event loop in this thread; the tests' own ORM calls are
    # still synchronous, so Django's async-safety guard has to be told so.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, live_server, request):
    """A fresh browser tab on the live server; its last page is saved under tests/artifacts/,
    as a laptop and as a phone would show it."""
    context = chromium.new_context(viewport=LAPTOP, base_url=live_server.url, accept_downloads=True)
    context.set_default_timeout(10_000)
    tab = context.new_page()
    tab.on("dialog", lambda dialog: dialog.accept())  # confirm dialogs: the user agrees
    yield tab
    _screenshots(tab, request.node.name)
    context.close()


def _screenshots(tab, test_name):
    snap_both(tab, test_name)


def snap_both(tab, name):
    """The page as a laptop and as a phone show it."""
    snap(tab, name)
    tab.set_viewport_size(PHONE)
    snap(tab, name, "phone")
    tab.set_viewport_size(LAPTOP)


def snap(tab, name, size="laptop"):
    """Save what the tab shows now as tests/artifacts/<name>-<size>.png (whole page)."""
    ARTIFACTS.mkdir(exist_ok=True)
    name = re.sub(r"[^\w.-]+", "_", name)
    tab.screenshot(path=ARTIFACTS / f"{name}-{size}.png", full_page=True)


def sign_in(tab, username, password, *, here=False):
    """Sign in through the form; `here`: on the sign-in page already shown (keeps its ?next=)."""
    if not here:
        tab.goto("/accounts/login/")
    tab.get_by_label("Username").fill(username)
    tab.get_by_label("Password").fill(password)
    tab.get_by_role("button", name="Sign in").click()
    tab.wait_for_load_state()
