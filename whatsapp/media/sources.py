"""Where a transport's file may be fetched from, and with which credentials.

WAHA serves a received file under its own URL, behind its API key — a key that controls the
phone. It goes only to the very origin (scheme, host, port) of the account's WAHA server, never
to a URL that merely starts with the same characters (`https://waha.example.com.evil.net/`,
`https://waha.example.com@evil.net/`). And the private-address guard is lifted for exactly what
the WAHA transport itself is allowed to reach (WAHA_TRUSTED_URLS), nothing more: the account's
own base_url is whatever was typed on the connect page.
"""

from django.conf import settings

from timelines import safehttp


def _waha_settings(account):
    return account.transport_settings if account.transport == "waha" else {}


def same_origin(url, base_url):
    """True when `url` is on the origin of `base_url` (an unparsable URL is on none)."""
    mine = safehttp.origin(base_url)
    return bool(mine) and safehttp.origin(url) == mine and "@" not in _netloc(url)


def _netloc(url):
    # A URL with credentials in it (user@host) is never our server's file link.
    return url.split("://", 1)[-1].split("/", 1)[0]


def headers_for(account, url):
    """X-Api-Key for a URL on the account's WAHA origin; nothing for any other URL."""
    config = _waha_settings(account)
    if config.get("api_key") and same_origin(url, config.get("base_url", "")):
        return {"X-Api-Key": config["api_key"]}
    return {}


def trusted_for(account):
    """The origins allowed to be private for this account's files: the WAHA transport's."""
    return tuple(settings.WAHA_TRUSTED_URLS) if account.transport == "waha" else ()
