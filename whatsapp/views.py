"""The owner's chat pages: the workspace's chats, one chat's messages, replying and assigning."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from timelines.access import workspace_for_member
from whatsapp.governor import policy
from whatsapp.media.retention import used_bytes
from whatsapp.models import Chat, Message
from whatsapp.replies import ReplyForm, ReplyRefused, send_reply

CHATS_PER_PAGE = 50
MESSAGES_PER_PAGE = 50
STATUSES_PER_POLL = 100


@login_required
def chats(request, workspace_id):
    workspace = workspace_for_member(request, workspace_id)
    rows = (
        Chat.objects.of_workspace(workspace)
        .select_related("account", "responsible")
        .with_last_message()
    )
    page = Paginator(rows, CHATS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "workspace": workspace,
        "page": page,
        "members": _members(workspace),
        # The storage the workspace's files take (SPEC M5), for its owner.
        "storage_used": used_bytes(workspace) if workspace.owner_id == request.user.pk else None,
        "retention_days": settings.MEDIA_RETENTION_DAYS,
    }
    return render(request, "whatsapp/chats.html", context)


@login_required
def chat_messages(request, chat_id):
    return _chat_page(request, _chat_for_member(request, chat_id), request.GET)


def message_ids(*given):
    """The message ids a query string names, as a lookup may take them: none is empty, and none
    holds a NUL (no message id does, and PostgreSQL refuses one in a query parameter)."""
    return [i for i in given if i and "\x00" not in i]


def _chat_page(request, chat, query, form=None, status=200):
    paginator = Paginator(chat.messages.select_related("media"), MESSAGES_PER_PAGE)
    [around_id] = message_ids(query.get("around", "")) or [None]
    around = chat.messages.filter(message_id=around_id).first() if around_id else None
    page = paginator.get_page(_page_number(query, paginator, around))
    now = timezone.now()
    for message in page.object_list:
        if message.status == Message.QUEUED:
            message.chat = chat  # the page's own: no query per message
            message.waiting = policy.waiting(message, now)
    context = {
        "workspace": chat.account.workspace,
        "chat": chat,
        "page": page,
        "around": around,
        "form": form or ReplyForm.refused(request.session, chat.pk) or ReplyForm(),
        "members": _members(chat.account.workspace),
        "retention_days": settings.MEDIA_RETENTION_DAYS,
    }
    return render(request, "whatsapp/chat.html", context, status=status)


@login_required
@require_POST
def reply(request, chat_id):
    """Queue a message from the chat page (any member may send); back to the chat's newest page,
    or, refused (invalid, no credits, account not connected), back to the chat page, which says
    what went wrong and keeps the text."""
    chat = _chat_for_member(request, chat_id)
    form = ReplyForm(request.POST, request.FILES)
    page = reverse("whatsapp:chat", args=[chat.pk])
    if form.is_valid():
        try:
            message = send_reply(chat, form)
        except ReplyRefused as refused:
            form.add_error(None, str(refused))
        else:
            return redirect(f"{page}#{message.permalink_anchor}")
    # Refused: back to the chat's own address (a reload must not post again), where the page
    # shows what went wrong with the text kept.
    form.keep_refused(request.session, chat.pk)
    return redirect(f"{page}#reply")


@login_required
@require_GET
def statuses(request, chat_id):
    """The status of the chat's messages named in ?ids= (comma-separated message ids), for the
    chat page to update its badges without a reload."""
    chat = _chat_for_member(request, chat_id)
    ids = message_ids(*request.GET.get("ids", "").split(","))[:STATUSES_PER_POLL]
    rows = chat.messages.filter(message_id__in=ids, direction=Message.SENT)
    return JsonResponse(
        {
            "messages": [
                {
                    "message_id": m.message_id,
                    "status": m.status,
                    "status_display": m.get_status_display(),
                    "error": m.error,
                }
                for m in rows
            ]
        }
    )


@login_required
@require_POST
def assign(request, chat_id):
    """Make a member of the workspace (or nobody) responsible for the chat."""
    chat = _chat_for_member(request, chat_id)
    workspace = chat.account.workspace
    user_id = request.POST.get("responsible") or ""
    user = None
    if user_id:
        user = (
            get_user_model()
            .objects.filter(
                pk=int(user_id) if user_id.isdigit() else 0, memberships__workspace=workspace
            )
            .first()
        )
        if user is None:
            messages.error(request, "Only a member of this workspace can be responsible.")
            return redirect(_back(request, chat))
    if chat.assign(user):
        who = chat.responsible_name if user else "nobody"
        messages.success(request, f"{chat.name} is now assigned to {who}.")
    return redirect(_back(request, chat))


def _back(request, chat):
    """Where the assign form was: the chat list (its ?page= kept) or the chat page."""
    back = request.POST.get("next", "")
    workspace_chats = reverse("whatsapp:chats", args=[chat.account.workspace_id])
    if back.startswith(workspace_chats):
        return back
    return reverse("whatsapp:chat", args=[chat.pk])


def _chat_for_member(request, chat_id):
    chat = get_object_or_404(
        Chat.objects.select_related("account__workspace", "responsible"), pk=chat_id
    )
    workspace_for_member(request, chat.account.workspace_id)
    return chat


def _members(workspace):
    """(user id, name) of every member, the owner included, by name."""
    users = get_user_model().objects.filter(memberships__workspace=workspace)
    named = [(u.pk, u.get_full_name() or u.get_username()) for u in users]
    return sorted(named, key=lambda pair: pair[1].lower())


def _page_number(query, paginator, around):
    """?page= if given, else the page holding ?around= (a permalink), else the newest page."""
    if query.get("page"):
        return query["page"]
    if around is not None:
        return around.position_in_chat() // paginator.per_page + 1
    return paginator.num_pages
