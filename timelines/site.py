"""The site's base URL, for every link that leaves the app (chat_url in payloads, the inbound
webhook's URL, permalinks, emails, what commands print).

SITE_URL from the environment (or .env) wins: production sets it. Without it, the address the
development server was started on, recorded in the database by `make run ADDR=…`, so that a
command run from another shell prints the same links as the pages; else http://127.0.0.1:8000.
"""

import shlex
import time
from urllib.parse import urlsplit

from django.conf import settings
from django.db import DatabaseError

DEFAULT = "http://127.0.0.1:8000"
CACHE_SECONDS = 5.0  # payloads ask once per chat: no query each time, yet a change shows soon
_cache = {"url": None, "until": 0.0}


def site_url():
    """The base URL, without a trailing slash."""
    if settings.SITE_URL:
        return settings.SITE_URL
    now = time.monotonic()
    if _cache["url"] is None or now >= _cache["until"]:
        _cache["url"], _cache["until"] = _stored() or DEFAULT, now + CACHE_SECONDS
    return _cache["url"]


def _stored():
    from timelines.models import SiteAddress

    try:
        row = SiteAddress.objects.filter(pk=1).first()
    except DatabaseError:  # not migrated yet
        return None
    return row.url if row else None


def remember(url):
    """Record `url` (an address as given to runserver, or a URL) as the site's base URL; returns
    the URL recorded."""
    from timelines.models import SiteAddress

    url = url_of_address(url)
    SiteAddress.objects.update_or_create(pk=1, defaults={"url": url})
    _cache["url"] = None
    return url


def url_of_address(address):
    """'127.0.0.1:8011', '8011', '0.0.0.0:8000' or 'http://host:port/' -> a base URL a browser on
    this machine can open."""
    address = address.strip().rstrip("/")
    if "://" not in address:
        address = "http://" + (f"127.0.0.1:{address}" if address.isdigit() else address)
    parts = urlsplit(address)
    host = parts.hostname or "127.0.0.1"
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def manage_command(*args):
    """A management command as the reader of an email can paste it: in development (DEBUG on)
    with the project's folder, its virtualenv and DEBUG, so it runs as written from any shell;
    in production as run where the app is deployed (inside its container)."""
    words = " ".join(shlex.quote(str(arg)) for arg in args)
    if settings.DEBUG:
        folder = shlex.quote(str(settings.BASE_DIR))
        return f"cd {folder} && DEBUG=true .venv/bin/python manage.py {words}"
    return f"python manage.py {words}"
