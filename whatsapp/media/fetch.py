"""Fetching a received file from its transport (SPEC M1), into a file, within MEDIA_MAX_BYTES,
through the outbound-HTTP seam. WAHA: the event's `media.url` (with the API key only on WAHA's
own origin, whatsapp/media/sources.py); when there is none, or WAHA already deleted its copy
(after its WHATSAPP_FILES_LIFETIME), WAHA is asked for the message again with
`downloadMedia=true`, which downloads it from WhatsApp anew.

`Unobtainable(reason, permanent)` says why not, in words for the message: a permanent reason
(too large, a web page instead of the file, an address we must not reach) ends the file's
story; another is tried again later."""

import json
from urllib.parse import quote

from django.conf import settings

from timelines import safehttp
from whatsapp.attachments import looks_like_html
from whatsapp.media import sources
from whatsapp.transports.waha import WahaClient, waha_chat_id

TIMEOUT = 20  # seconds, each connect and each read
DEADLINE = 300  # seconds, a whole download: 100 MB at 3 Mbit/s


class Unobtainable(Exception):
    def __init__(self, reason, permanent=False):
        super().__init__(reason)
        self.reason, self.permanent = reason, permanent


class _Gone(Exception):
    """The URL no longer serves the file (WAHA deleted its copy)."""


def fetch(media, into):
    """Write `media`'s file into `into`; returns the type the server declared ('' if none)."""
    message = media.message
    account = message.chat.account
    url = media.source
    if url:
        try:
            return download(account, url, into, message.attachment_mime)
        except _Gone:
            pass
    if account.transport != "waha":
        raise Unobtainable("The transport no longer offers this file.", permanent=True)
    url = ask_waha(account, message, media.ref)
    try:
        return download(account, url, into, message.attachment_mime)
    except _Gone:
        raise Unobtainable("WAHA gave a link to the file that no longer works.") from None


def download(account, url, into, expected_mime=""):
    into.seek(0)
    into.truncate()
    try:
        response = safehttp.request(
            "GET",
            url,
            headers=sources.headers_for(account, url),
            trusted=sources.trusted_for(account),
            timeout=TIMEOUT,
            total_timeout=DEADLINE,
            max_bytes=settings.MEDIA_MAX_BYTES,
            into=into,
        )
    except safehttp.TooLarge:
        limit = settings.MEDIA_MAX_BYTES / (1024 * 1024)
        raise Unobtainable(
            f"The file is larger than {limit:g} MB (MEDIA_MAX_BYTES), so it was not kept.",
            permanent=True,
        ) from None
    except safehttp.UnsafeURL as exc:
        raise Unobtainable(
            f"The file was not downloaded from {_short(url)}: {exc}.{_hint(account, url)}",
            permanent=True,
        ) from None
    except safehttp.FetchError as exc:
        raise Unobtainable(f"The file could not be downloaded from {_short(url)}: {exc}.") from None
    if response.status in (404, 410):
        raise _Gone()
    if not response.ok:
        raise Unobtainable(f"{_short(url)} answered HTTP {response.status} instead of the file.")
    return _checked(response, into, url, expected_mime)


def _checked(response, into, url, expected_mime):
    into.seek(0)
    head = into.read(1024)
    declared = response.content_type
    if not head:
        raise Unobtainable(f"{_short(url)} answered with an empty file.")
    html_expected = expected_mime.startswith(("text/html", "application/xhtml"))
    if not html_expected and looks_like_html(declared, head):
        raise Unobtainable(
            f"{_short(url)} answered with a web page instead of the file.", permanent=True
        )
    return declared


def ask_waha(account, message, ref):
    """The file's new URL from WAHA, which downloads it from WhatsApp again."""
    client = WahaClient.for_settings(account.transport_settings)
    chat_id = waha_chat_id(message.chat.jid)
    if not ref:
        mine = "true" if message.direction == message.SENT else "false"
        ref = f"{mine}_{chat_id}_{message.external_id}"
    path = (
        f"/api/{quote(client.session or 'default', safe='')}/chats/{quote(chat_id, safe='')}"
        f"/messages/{quote(ref, safe='')}?downloadMedia=true"
    )
    try:
        response = client.request("GET", path)
    except safehttp.FetchError as exc:
        raise Unobtainable(f"WAHA could not be asked for the file again: {exc}.") from None
    if response.status == 404:
        raise Unobtainable("WAHA no longer has this message, so its file cannot be had.", True)
    if not response.ok:
        raise Unobtainable(f"WAHA answered HTTP {response.status} when asked for the file again.")
    try:
        media = (_json(response).get("media") or {}) if response.content else {}
    except ValueError:
        media = {}
    url = media.get("url") if isinstance(media, dict) else None
    if not isinstance(url, str) or not url:
        error = media.get("error") if isinstance(media, dict) else None
        said = f" ({str(error)[:200]})" if error else ""
        raise Unobtainable(f"WAHA has no copy of the file and could not download it again{said}.")
    return url


def _json(response):
    value = json.loads(response.content)
    if not isinstance(value, dict):
        raise ValueError("not an object")
    return value


def _short(url):
    return url if len(url) <= 120 else url[:120] + "…"


def _hint(account, url):
    """A WAHA file link on another server than the account's WAHA: usually WAHA does not know
    the address the app reaches it at (WAHA_BASE_URL)."""
    base = account.transport_settings.get("base_url", "") if account.transport == "waha" else ""
    if base and not sources.same_origin(url, base):
        return (
            f" WAHA named a server other than {safehttp.origin(base)}; set WAHA_BASE_URL in "
            "WAHA's environment to the address Timelines reaches it at."
        )
    return ""
