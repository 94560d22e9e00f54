"""System checks for configuration that works in development but not in production."""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Warning, register

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}


@register(deploy=False)
def check_site_url(app_configs, **kwargs):
    """W001: with DEBUG off, SITE_URL must be the public address.

    It is the base of every link that leaves the app (chat_url in outbound payloads, inbound
    webhook URLs, the aggregation's permalink): left at the local default, integrators would get
    links to their own machine.
    """
    host = urlsplit(settings.SITE_URL).hostname or ""
    if settings.DEBUG or (settings.SITE_URL and host not in LOCAL_HOSTS):
        return []
    shown = settings.SITE_URL or "not set"
    return [
        Warning(
            f"SITE_URL is {shown} while DEBUG is off.",
            hint="Set SITE_URL to the public base URL, e.g. https://timelines.example.com.",
            id="timelines.W001",
        )
    ]
