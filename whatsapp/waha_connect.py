"""The owner connects a WhatsApp account through WAHA: WAHA URL, key and session -> the session
starts with its webhook pointing at us -> the QR code until the phone has scanned it -> the
account, connected, with its phone number."""

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseNotFound
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from timelines import safehttp
from timelines.access import workspace_for_member, workspace_for_owner
from timelines.site import site_url
from whatsapp.governor import pages as governor_pages
from whatsapp.models import WahaConnection
from whatsapp.phones import InvalidPhone
from whatsapp.transports.waha import WahaClient, WahaError, describe_restrictions, phone_of
from whatsapp.waha_server import Server

# The events Timelines handles (whatsapp/waha_events.py); WAHA sends nothing else. Group
# messages are acknowledged only by message.ack.group.
EVENTS = ["message.any", "message.ack", "message.ack.group", "session.status"]
# WAHA retries a delivery that fails (our restart, a deploy) this often, this far apart.
RETRIES = {"delaySeconds": 2, "attempts": 15}


class ConnectForm(forms.Form):
    base_url = forms.URLField(
        label="WAHA URL",
        max_length=500,
        assume_scheme="http",
        help_text="Where Timelines reaches your WAHA server.",
    )
    api_key = forms.CharField(
        label="API key",
        max_length=200,
        required=False,
        widget=forms.PasswordInput(render_value=True),
        help_text="WAHA's WAHA_API_KEY (sent as X-Api-Key). Left empty for the operator's own "
        "WAHA server, Timelines uses the key the operator configured.",
    )
    session = forms.RegexField(
        regex=r"^[A-Za-z0-9_-]{1,64}$",
        initial="default",
        error_messages={"invalid": "Use letters, digits, - and _ only."},
        help_text="WAHA's name for the session; one per phone.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["base_url"].initial = settings.WAHA_URL or "http://127.0.0.1:3000"

    def clean(self):
        values = super().clean()
        operators = settings.WAHA_URL and values.get("base_url") == settings.WAHA_URL
        if operators and not values.get("api_key"):
            values["api_key"] = settings.WAHA_API_KEY
        return values

    def clean_base_url(self):
        url = self.cleaned_data["base_url"].rstrip("/")
        try:
            safehttp.check_url(url, settings.WAHA_TRUSTED_URLS)
        except safehttp.InvalidURL as exc:
            raise forms.ValidationError(f"{exc}.") from None
        except safehttp.UnsafeURL as exc:
            raise forms.ValidationError(
                f"{exc}. If WAHA runs on this machine or your network, ask the operator to add "
                f"{url} to WAHA_TRUSTED_URLS."
            ) from None
        except safehttp.FetchError as exc:
            raise forms.ValidationError(str(exc)) from None
        return url


def webhook_config(connection):
    """The session config that makes WAHA post our events, signed, to the connection's URL.
    WEBJS emits acks only with its 'tag' events on (config.webjs.tagsEventsOn)."""
    url = events_base() + reverse("whatsapp:waha_events", args=[connection.secret])
    webhook = {"url": url, "events": EVENTS, "hmac": {"key": connection.hmac_key}}
    config = {"webhooks": [{**webhook, "retries": RETRIES}]}
    if Server.from_answer(connection.server).engine in ("WEBJS", ""):
        config["webjs"] = {"tagsEventsOn": True}
    return config


def is_ours(webhook):
    """A webhook of a session's config that points at Timelines' events endpoint (this
    connection's, or an earlier connection's whose URL no longer works)."""
    path = reverse("whatsapp:waha_events", args=["x"])[:-2]
    prefixes = {base + path for base in (site_url(), events_base())}
    url = str(webhook.get("url") or "") if isinstance(webhook, dict) else ""
    return url.startswith(tuple(prefixes))


def events_base():
    """Timelines' address as WAHA sees it (WAHA_WEBHOOK_BASE_URL, else the site's URL)."""
    return settings.WAHA_WEBHOOK_BASE_URL or site_url()


def merged_config(current, ours):
    """The session's config as its operator left it, with our webhook in place of any earlier
    one of ours, and our WEBJS setting added: other webhooks, proxy, metadata are kept."""
    config = dict(current)
    webhooks = [hook for hook in config.get("webhooks") or [] if not is_ours(hook)]
    config["webhooks"] = webhooks + ours["webhooks"]
    if "webjs" in ours:
        webjs = config.get("webjs") if isinstance(config.get("webjs"), dict) else {}
        config["webjs"] = {**webjs, **ours["webjs"]}
    return config


def client_for(connection):
    return WahaClient(connection.base_url, connection.api_key, connection.session)


def check_server(client, session):
    """The server, and why `session` cannot work on it (WahaError if it cannot be reached)."""
    server = client.server()
    return server, server.refusals(session)


@login_required
def accounts(request, workspace_id):
    workspace = workspace_for_member(request, workspace_id)
    accounts = list(workspace.accounts.select_related("connected_by"))
    # A disconnected phone is linked again from its connection's page (QR code).
    linked = workspace.waha_connections.filter(account__isnull=False)
    by_account = {connection.account_id: connection for connection in linked}
    for account in accounts:
        account.waha_connection = connection = by_account.get(account.pk)
        account.waha_notes = notes_for(account, connection) if connection else []
    is_owner = workspace.is_owner(request.user)
    context = {
        "workspace": workspace,
        "accounts": accounts,
        "is_owner": is_owner,
        "paused": governor_pages.decorate(accounts, is_owner),  # G1, G3
        "recommended": governor_pages.policy.RECOMMENDED,
    }
    return render(request, "whatsapp/accounts.html", context)


def notes_for(account, connection):
    """What the owner should know about a WAHA account: what its server cannot do, and the
    restrictions WhatsApp reported (with their end dates)."""
    server = Server.from_answer(connection.server)
    restrictions = account.transport_settings.get("restrictions") or {}
    return server.limits() + describe_restrictions(restrictions)


@login_required
def connect(request, workspace_id):
    workspace = workspace_for_owner(request, workspace_id)
    form = ConnectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        connection = start(workspace, request.user, form)
        if connection is not None:
            return redirect("whatsapp:waha_connecting", workspace.pk, connection.pk)
    return render(request, "whatsapp/connect.html", {"workspace": workspace, "form": form})


def start(workspace, user, form):
    """Check the server, then start the session with our webhook; the connection, or None with
    the reasons on the form (nothing is left behind in WAHA or here)."""
    values = form.cleaned_data
    client = WahaClient(values["base_url"], values["api_key"], values["session"])
    try:
        server, refusals = check_server(client, values["session"])
    except WahaError as exc:
        form.add_error(None, str(exc))
        return None
    for reason in refusals:
        form.add_error(None, reason)
    if refusals:
        return None
    connection, created = connection_for(workspace, user, server, values)
    ours = webhook_config(connection)
    try:
        client.start_session(ours, lambda current: merged_config(current, ours))
    except WahaError as exc:
        if created:
            connection.delete()
        form.add_error(None, str(exc))
        return None
    return connection


def connection_for(workspace, user, server, values):
    """The workspace's connection to this WAHA session, saved before WAHA is asked to start it
    (WAHA may post the session's first events before it has answered). Connecting the same
    session again keeps its secret URL and HMAC key: WAHA's config then stays as it is, and a
    running session is not restarted. (connection, created)"""
    same = {"base_url": values["base_url"], "session": values["session"]}
    connection = workspace.waha_connections.filter(**same).order_by("-pk").first()
    if connection is None:
        connection = WahaConnection.objects.create(
            workspace=workspace, created_by=user, server=server.as_dict(), **values
        )
        return connection, True
    connection.api_key, connection.server = values["api_key"], server.as_dict()
    connection.save(update_fields=["api_key", "server", "updated_at"])
    return connection, False


@login_required
def connecting(request, workspace_id, connection_id):
    workspace = workspace_for_owner(request, workspace_id)
    connection = get_object_or_404(WahaConnection, pk=connection_id, workspace=workspace)
    problem = refresh(connection)
    connected = connection.status == "WORKING" and connection.account is not None
    context = {
        "workspace": workspace,
        "connection": connection,
        "connected": connected,
        "problem": problem,
        "limits": Server.from_answer(connection.server).limits(),
    }
    return render(request, "whatsapp/connecting.html", context)


def refresh(connection):
    """Ask WAHA how the session is (events may not reach us, e.g. while SITE_URL is wrong) and
    link the account once it works. Returns what went wrong, or ''."""
    client = client_for(connection)
    try:
        info = client.session_info()
        status = str(info.get("status") or "").upper()
        if status != "WORKING":
            connection.record_status(status)
            return ""
        me = info.get("me") or client.me()
        connection.link(phone_of((me or {}).get("id")))
    except WahaError as exc:
        return str(exc)
    except InvalidPhone:
        return "WAHA reports a session without a phone number; try scanning the code again."
    return ""


@login_required
def qr_code(request, workspace_id, connection_id):
    """WAHA's QR code, through us: the browser never needs to reach WAHA or know its key."""
    workspace = workspace_for_owner(request, workspace_id)
    connection = get_object_or_404(WahaConnection, pk=connection_id, workspace=workspace)
    try:
        png = client_for(connection).qr_png()
    except WahaError as exc:
        return HttpResponseNotFound(str(exc), content_type="text/plain")
    return HttpResponse(png, content_type="image/png", headers={"Cache-Control": "no-store"})
