"""Who may see and change a workspace's pages.

Members (the owner included) may view; only the owner may change integrations or download logs.
Anyone else gets 404, never 403, so that workspace ids do not leak.
"""

from django.http import Http404
from django.shortcuts import get_object_or_404

from timelines.models import Workspace

SESSION_KEY = "workspace_id"


def workspace_for_member(request, workspace_id):
    workspace = get_object_or_404(Workspace, pk=workspace_id)
    if not workspace.is_member(request.user):
        raise Http404("No such workspace")
    use_workspace(request, workspace)
    return workspace


def use_workspace(request, workspace):
    """Make `workspace` the one the header shows and "/" returns to."""
    request.workspace = workspace
    if request.session.get(SESSION_KEY) != workspace.pk:
        request.session[SESSION_KEY] = workspace.pk


def workspace_for_owner(request, workspace_id):
    workspace = workspace_for_member(request, workspace_id)
    if not workspace.is_owner(request.user):
        raise Http404("No such workspace")
    return workspace


def current_workspace(request):
    """The workspace the user last switched to, else their first one; None when they have none."""
    workspaces = Workspace.objects.for_user(request.user)
    chosen = request.session.get(SESSION_KEY)
    return (chosen and workspaces.filter(pk=chosen).first()) or workspaces.first()
