from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from timelines.access import current_workspace


@login_required
def home(request):
    """The current workspace's chats; a short explanation for a user who has no workspace."""
    workspace = current_workspace(request)
    if workspace is None:
        return render(request, "home.html")
    return redirect("whatsapp:chats", workspace_id=workspace.pk)
