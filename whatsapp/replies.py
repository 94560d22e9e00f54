"""Replying from the chat page: text and/or one file (uploaded, or fetched from a URL by the
sender), through the same queue, pacing and credits as the inbound webhook, with origin "Web UI".
"""

from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

from django import forms
from django.core.files.storage import default_storage
from django.db import transaction
from django.forms.utils import ErrorDict

from credits.models import Balance, QuotaExceeded
from timelines import safehttp
from whatsapp.attachments import MAX_ATTACHMENT_BYTES, store_upload, stored_name
from whatsapp.media import sent
from whatsapp.models import Message
from whatsapp.outbox import message_cost, queue_message


class ReplyRefused(Exception):
    """The reply cannot be queued; `status` is the HTTP status the inbound webhook would answer."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class ReplyForm(forms.Form):
    text = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    file = forms.FileField(required=False, label="Attach a file")
    file_url = forms.URLField(
        required=False,
        max_length=2000,
        label="or a file's URL",
        assume_scheme="https",
        help_text="A direct download link (http or https); the file is fetched when it is sent.",
    )

    def clean_file_url(self):
        url = self.cleaned_data.get("file_url")
        if url:
            try:
                safehttp.parse_url(url)  # what the sender would refuse, refused now
            except safehttp.InvalidURL as exc:
                raise forms.ValidationError(f"This URL cannot be used: {exc}.") from None
        return url

    def clean_file(self):
        upload = self.cleaned_data.get("file")
        if upload and upload.size > MAX_ATTACHMENT_BYTES:
            raise forms.ValidationError(
                f"{upload.name} is larger than the 2 MB limit for attachments."
            )
        return upload

    def clean(self):
        cleaned = super().clean()
        text, upload, url = cleaned.get("text"), cleaned.get("file"), cleaned.get("file_url")
        if upload and url:
            raise forms.ValidationError("Attach one file: upload it or give its URL, not both.")
        if not (text or "").strip() and not upload and not url and not self.errors:
            raise forms.ValidationError("Type a message or attach a file.")
        return cleaned

    # Redirect after a refused POST: what was typed and what went wrong wait in the session for
    # the chat page's next GET (an uploaded file cannot wait there: the page asks for it again).
    def keep_refused(self, session, chat_id):
        errors = {field: list(errors) for field, errors in self.errors.items()}
        if self.files.get("file") and "file" not in errors:
            errors.setdefault("file", []).append("Attach the file again.")
        data = {name: self.data.get(name, "") for name in ("text", "file_url")}
        session[_refused_key(chat_id)] = {"data": data, "errors": errors}

    @classmethod
    def refused(cls, session, chat_id):
        """The refused reply kept for this chat, once, as a form showing its errors; or None."""
        kept = session.pop(_refused_key(chat_id), None)
        if not kept:
            return None
        form = cls(kept["data"])
        form._errors = ErrorDict(
            {field: form.error_class(messages) for field, messages in kept["errors"].items()}
        )
        return form

    def attachment_name(self):
        upload, url = self.cleaned_data.get("file"), self.cleaned_data.get("file_url")
        if upload:
            return upload.name
        if url:
            return unquote(PurePosixPath(urlsplit(url).path).name) or "file"
        return ""


def _refused_key(chat_id):
    return f"refused-reply-{chat_id}"


def send_reply(chat, form):
    """Queue the reply `form` (valid) describes in `chat`; returns the Message or raises
    ReplyRefused (402 no credits, 409 account not connected) and keeps nothing."""
    if not chat.account.is_connected:
        raise ReplyRefused(
            409,
            f"The WhatsApp account {chat.account.phone} of this chat is not connected: "
            "reconnect it on the Accounts page, then send again.",
        )
    data = form.cleaned_data
    url = store_upload(data["file"]) if data.get("file") else data.get("file_url") or ""
    try:
        with transaction.atomic():
            message = queue_message(
                chat,
                text=(data.get("text") or "").strip("\r\n"),
                origin=Message.ORIGIN_WEB,
                attachment_url=url,
                attachment_name=form.attachment_name(),
            )
            if (stored := stored_name(url)) is not None:
                sent.keep_upload(message, stored, data["file"].size)
            return message
    except QuotaExceeded:
        if (stored := stored_name(url)) is not None:
            default_storage.delete(stored)
        cost = message_cost(data.get("text"), bool(url))
        left = Balance.of(chat.account.workspace)
        raise ReplyRefused(
            402,
            f"Not enough message credits: this message needs {cost} and the workspace has "
            f"{left}. Nothing was sent; add credits and send again.",
        ) from None
