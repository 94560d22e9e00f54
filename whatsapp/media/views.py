"""The console's own links to a message's file (SPEC M6): for the workspace's members only."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET

from whatsapp.media.serve import file_response
from whatsapp.views import _chat_for_member


@login_required
@require_GET
def message_file(request, chat_id, message_id):
    chat = _chat_for_member(request, chat_id)
    message = get_object_or_404(
        chat.messages.select_related("media"), message_id=message_id.replace("\x00", "")
    )
    view = request.GET.get("view")
    return file_response(message, inline=view in ("inline", "thumb"), thumbnail=view == "thumb")
