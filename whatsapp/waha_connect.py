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
from whatsapp.models import WahaConnection
from whatsapp.phones import InvalidPhone
from whatsapp.transports.waha import WahaClient, WahaError, phone_of

# The events Timelines handles (whatsapp/waha_events.py); WAHA sends nothing else.
EVENTS = ["message.any", "message.ack", "session.status"]
# WAHA retries a delivery that fails (our restart, a deploy) this often, this far apart.
RETRIES = {"delaySeconds": 2, "attempts": 15}


class ConnectForm(forms.Form):
    base_url = forms.URLField(
        label="WAHA URL",
        max_length=500,
        assume_scheme="http",
        initial="http://127.0.0.1:3000",
        help_text="Where Timelines reaches your WAHA server.",
    )
    api_key = forms.CharField(
        label="API key",
        max_length=200,
        required=False,
        widget=forms.PasswordInput(render_value=True),
        help_text="WAHA's WAHA_API_KEY (sent as X-Api-Key).",
    )
    session = forms.RegexField(
        regex=r"^[A-Za-z0-9_-]{1,64}$",
        initial="default",
        error_messages={"invalid": "Use letters, digits, - and _ only."},
        help_text="WAHA's name for the session; one per phone.",
    )

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
    """The session config that makes WAHA post our events, signed, to the connection's URL."""
    url = site_url() + reverse("whatsapp:waha_events", args=[connection.secret])
    webhook = {"url": url, "events": EVENTS, "hmac": {"key": connection.hmac_key}}
    return {"webhooks": [{**webhook, "retries": RETRIES}]}


def client_for(connection):
    return WahaClient(connection.base_url, connection.api_key, connection.session)


@login_required
def accounts(request, workspace_id):
    workspace = workspace_for_member(request, workspace_id)
    accounts = list(workspace.accounts.select_related("connected_by"))
    # A disconnected phone is linked again from its connection's page (QR code).
    linked = workspace.waha_connections.filter(account__isnull=False)
    by_account = {connection.account_id: connection for connection in linked}
    for account in accounts:
        account.waha_connection = by_account.get(account.pk)
    context = {
        "workspace": workspace,
        "accounts": accounts,
        "is_owner": workspace.is_owner(request.user),
    }
    return render(request, "whatsapp/accounts.html", context)


@login_required
def connect(request, workspace_id):
    workspace = workspace_for_owner(request, workspace_id)
    form = ConnectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        # Saved first: WAHA may post the session's first events before it has answered us.
        connection = WahaConnection.objects.create(
            workspace=workspace, created_by=request.user, **form.cleaned_data
        )
        try:
            client_for(connection).start_session(webhook_config(connection))
        except WahaError as exc:
            connection.delete()
            form.add_error(None, str(exc))
        else:
            return redirect("whatsapp:waha_connecting", workspace.pk, connection.pk)
    return render(request, "whatsapp/connect.html", {"workspace": workspace, "form": form})


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
