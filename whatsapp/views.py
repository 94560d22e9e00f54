"""The owner's chat pages: the workspace's chats, and one chat's messages."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, render

from timelines.access import workspace_for_member
from whatsapp.models import Chat

CHATS_PER_PAGE = 50
MESSAGES_PER_PAGE = 50


@login_required
def chats(request, workspace_id):
    workspace = workspace_for_member(request, workspace_id)
    rows = Chat.objects.of_workspace(workspace).select_related("account").with_last_message()
    page = Paginator(rows, CHATS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "whatsapp/chats.html", {"workspace": workspace, "page": page})


@login_required
def chat_messages(request, chat_id):
    chat = get_object_or_404(Chat.objects.select_related("account"), pk=chat_id)
    workspace = workspace_for_member(request, chat.account.workspace_id)
    paginator = Paginator(chat.messages.all(), MESSAGES_PER_PAGE)
    # No message id holds a NUL, and PostgreSQL refuses one in a query parameter.
    around_id = request.GET.get("around", "")
    around = chat.messages.filter(message_id=around_id).first() if "\x00" not in around_id else None
    page = paginator.get_page(_page_number(request, paginator, around))
    context = {"workspace": workspace, "chat": chat, "page": page, "around": around}
    return render(request, "whatsapp/chat.html", context)


def _page_number(request, paginator, around):
    """?page= if given, else the page holding ?around= (a permalink), else the newest page."""
    if request.GET.get("page"):
        return request.GET["page"]
    if around is not None:
        return around.position_in_chat() // paginator.per_page + 1
    return paginator.num_pages
