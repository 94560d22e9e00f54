"""The header every signed-in page shows: workspace (with a switcher), credits, accounts, sections.

It lives here because whatsapp is the highest app that knows both accounts and credits. The
integration pages above it are named by URL only (no import), so the dependency stays one-way.
"""

from django.urls import NoReverseMatch, reverse

from credits.models import Balance
from timelines.access import current_workspace
from timelines.models import Workspace

# Sections of a workspace, in header order: (label, what wide screens add to it, URL name taking
# the workspace id, shown to the owner only). Phones show the short labels, on two lines.
SECTIONS = [
    ("Chats", "", "whatsapp:chats", False),
    ("Inbound", " webhook", "inbound:page", False),
    ("Outbound", " webhook", "outbound:page", False),
    ("Webhooks", " v2", "endpoints:page", False),
    ("API tokens", "", "endpoints:tokens", True),
    ("Credits", "", "credits:index", False),
    ("Accounts", "", "whatsapp:accounts", False),
]
MAX_ACCOUNTS_SHOWN = 3


def header(request):
    # DRF's views (the API reference page among them) leave no user on the request.
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    # A workspace page records the workspace it shows (timelines.access); others use the session.
    workspace = getattr(request, "workspace", None) or current_workspace(request)
    if workspace is None:
        return {"header": {}}
    connected_first = workspace.accounts.order_by("status", "phone")
    accounts = list(connected_first[: MAX_ACCOUNTS_SHOWN + 1])
    return {
        "header": {
            "workspace": workspace,
            "switch_to": _switch_links(request, workspace),
            "balance": Balance.of(workspace),
            "credits_url": reverse("credits:index", args=[workspace.pk]),
            "accounts_url": reverse("whatsapp:accounts", args=[workspace.pk]),
            "accounts": accounts[:MAX_ACCOUNTS_SHOWN],
            "more_accounts": _more_accounts(workspace, len(accounts)),
            "nav": _nav(request, workspace),
        }
    }


def _more_accounts(workspace, fetched):
    if fetched <= MAX_ACCOUNTS_SHOWN:
        return 0
    return workspace.accounts.count() - MAX_ACCOUNTS_SHOWN


def _nav(request, workspace):
    links = []
    is_owner = workspace.is_owner(request.user)
    for label, more, name, owner_only in SECTIONS:
        if owner_only and not is_owner:
            continue
        href = reverse(name, args=[workspace.pk])
        # A chat page belongs to Chats although its URL has no workspace in it.
        current = request.path.startswith(href) or (
            name == "whatsapp:chats" and request.path.startswith("/chat/")
        )
        links.append((label, more, href, current))
    return links


def _switch_links(request, workspace):
    """(name, href) of the user's other workspaces, on the same page of theirs when possible."""
    others = Workspace.objects.for_user(request.user).exclude(pk=workspace.pk)
    return [(other.name, _same_page_in(request, other)) for other in others]


def _same_page_in(request, workspace):
    match = request.resolver_match
    # Only pages named by the workspace alone: another id in the URL belongs to this workspace.
    if match and set(match.kwargs) == {"workspace_id"}:
        try:
            return reverse(match.view_name, kwargs={**match.kwargs, "workspace_id": workspace.pk})
        except NoReverseMatch:
            pass
    return reverse("whatsapp:chats", args=[workspace.pk])
