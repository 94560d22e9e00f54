from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.text import Truncator

from timelines.admin import ReadOnlyAdmin
from whatsapp.governor import pauses
from whatsapp.models import (
    PAUSE_ALL,
    Account,
    Chat,
    EarlyAck,
    MediaFile,
    Message,
    WahaConnection,
)
from whatsapp.phones import InvalidPhone, normalize_phone
from whatsapp.transports.simulator import NotASimulator, simulator_for
from whatsapp.waha_server import Server

# The governor's policy (SPEC G1); a pause goes through the actions, which announce it.
POLICY_FIELDS = ["new_contacts_per_day", "quiet_from", "quiet_to", "time_zone", "check_numbers"]


class AccountForm(forms.ModelForm):
    # A free-text transport name would only fail at send time; offer the registry's names.
    transport = forms.ChoiceField(choices=[])

    class Meta:
        model = Account
        fields = [
            "workspace",
            "phone",
            "connected_by",
            "transport",
            "transport_settings",
            *POLICY_FIELDS,
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["transport"].choices = [(n, n) for n in settings.WHATSAPP_TRANSPORTS]
        self.fields["time_zone"].required = False

    def clean_time_zone(self):
        return self.cleaned_data.get("time_zone") or "UTC"

    def clean_phone(self):
        try:
            return normalize_phone(self.cleaned_data["phone"])
        except InvalidPhone as exc:
            raise forms.ValidationError(str(exc)) from None


class InjectForm(forms.Form):
    from_phone = forms.CharField(label="From phone", help_text="International, e.g. +14151231234")
    name = forms.CharField(required=False, help_text="The sender's name as shown in the timeline")
    group = forms.CharField(
        required=False, help_text="A group chat's name: the message arrives in that group"
    )
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))

    def clean_from_phone(self):
        try:
            return normalize_phone(self.cleaned_data["from_phone"])
        except InvalidPhone as exc:
            raise forms.ValidationError(str(exc)) from None


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    form = AccountForm
    list_display = [
        "phone",
        "workspace",
        "status",
        "transport",
        "connected_by",
        "last_connected_at",
        "next_send_at",
        "paused",
    ]
    list_filter = ["status", "transport", "paused", "workspace"]
    list_select_related = ["workspace", "connected_by"]
    search_fields = ["phone", "workspace__name", "connected_by__username", "connected_by__email"]
    raw_id_fields = ["workspace", "connected_by"]
    # Status changes go through the actions, which keep last_connected_at right; the sender's
    # pacing state belongs to the sender.
    readonly_fields = [
        "status",
        "last_connected_at",
        "created_at",
        "next_send_at",
        "ready_at",
        "lease_until",
        "lease_token",
        "simulator",
        "paused",
        "paused_until",
        "pause_reason",
        "new_contacts_day",
        "new_contacts_sent",
    ]
    actions = ["mark_connected", "mark_disconnected", "pause_sending", "resume_sending"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and set(form.changed_data) & set(POLICY_FIELDS):
            pauses.release_held(obj)  # held messages are looked at again under the new policy

    @admin.action(description="Pause sending of selected accounts (until resumed)")
    def pause_sending(self, request, queryset):
        for account in queryset:
            pauses.pause(account.pk, PAUSE_ALL, None, pauses.OWNER_PAUSE, by_owner=True)
        self.message_user(request, f"{len(queryset)} account(s) paused.")

    @admin.action(description="Resume sending of selected accounts")
    def resume_sending(self, request, queryset):
        for account in queryset:
            pauses.resume(account.pk)
        self.message_user(request, f"{len(queryset)} account(s) resumed.")

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            # Chats and messages record this number and belong to this workspace: moving either
            # would rewrite history.
            fields += ["workspace", "phone"]
        return fields

    @admin.action(description="Mark selected accounts connected")
    def mark_connected(self, request, queryset):
        for account in queryset:
            account.mark_connected()
        self.message_user(request, f"{len(queryset)} account(s) marked connected.")

    @admin.action(description="Mark selected accounts disconnected")
    def mark_disconnected(self, request, queryset):
        for account in queryset:
            account.mark_disconnected()
        self.message_user(request, f"{len(queryset)} account(s) marked disconnected.")

    @admin.display(description="Simulator")
    def simulator(self, obj):
        if obj.pk is None or obj.transport != "simulator":
            return "—"
        url = reverse("admin:whatsapp_account_inject", args=[obj.pk])
        return format_html('<a href="{}">Inject a received message</a>', url)

    def get_urls(self):
        inject = self.admin_site.admin_view(self.inject_view)
        return [
            path("<int:account_id>/inject/", inject, name="whatsapp_account_inject"),
        ] + super().get_urls()

    def inject_view(self, request, account_id):
        """SPEC: the simulator lets an admin inject a received message."""
        account = get_object_or_404(Account, pk=account_id)
        if not self.has_change_permission(request, account):
            raise PermissionDenied
        form = InjectForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                message = simulator_for(account).receive(**form.cleaned_data)
            except NotASimulator as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(request, f"Stored {message.message_id} in “{message.chat}”.")
                return redirect("admin:whatsapp_message_change", message.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Inject a received message into {account}",
            "opts": self.opts,
            "account": account,
            "form": form,
        }
        return TemplateResponse(request, "admin/whatsapp/account/inject.html", context)


@admin.register(Chat)
class ChatAdmin(admin.ModelAdmin):
    list_display = ["name", "id", "account", "workspace", "is_group", "phone", "created_at"]
    list_filter = ["is_group", "account__workspace", "account"]
    list_select_related = ["account__workspace"]
    search_fields = ["=id", "name", "phone", "jid"]
    raw_id_fields = ["account", "responsible"]
    date_hierarchy = "created_at"
    # phone and is_group follow from the JID (Chat.clean).
    readonly_fields = ["id", "phone", "is_group", "created_at", "chat_url", "messages_link"]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            # The chat_id and its JID are what integrations hold on to.
            fields += ["account", "jid"]
        return fields

    @admin.display(ordering="account__workspace__name")
    def workspace(self, obj):
        return obj.account.workspace

    def save_model(self, request, obj, form, change):
        # A new responsible member goes through Chat.assign, which announces it; a new chat is
        # announced (chat_created) as anywhere else.
        if not change:
            from django.db import transaction

            from whatsapp.signals import chat_created

            with transaction.atomic():
                super().save_model(request, obj, form, change)
                chat_created.send(sender=Chat, chat=obj, direction="sent")
            return None
        if "responsible" not in form.changed_data:
            return super().save_model(request, obj, form, change)
        responsible = obj.responsible
        obj.responsible = Chat.objects.get(pk=obj.pk).responsible
        super().save_model(request, obj, form, change)
        obj.assign(responsible)
        return None

    @admin.display(description="Messages")
    def messages_link(self, obj):
        if obj.pk is None:
            return "—"
        url = reverse("admin:whatsapp_message_changelist") + f"?chat__id__exact={obj.pk}"
        return format_html('<a href="{}">{} message(s)</a>', url, obj.messages.count())


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = [
        "message_id",
        "chat",
        "direction",
        "status",
        "timestamp",
        "sender_name",
        "short_text",
        "origin",
    ]
    list_filter = ["direction", "status", "origin", "chat__account__workspace"]
    list_select_related = ["chat"]
    search_fields = [
        "=message_id",
        "=external_id",
        "text",
        "sender_name",
        "sender_phone",
        "recipient_phone",
        "chat__name",
    ]
    date_hierarchy = "timestamp"
    raw_id_fields = ["chat"]
    # A scheme-less attachment URL is fetched over https (and Django 6's default, without the
    # deprecation warning).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    # Identity, direction, times and the delivery state: changing any of them would bypass the
    # sender (credits, refunds, signals) or break what integrations were told.
    readonly_fields = [
        "message_id",
        "external_id",
        "chat",
        "direction",
        "origin",
        "created_chat",
        "timestamp",
        "stored_at",
        "status",
        "error",
        "credits",
        "send_attempts",
        "retry_at",
        "queued_at",
        "sending_at",
        "sent_at",
        "delivered_at",
        "read_at",
        "failed_at",
    ]

    def has_add_permission(self, request):
        # Messages are stored by store_message only (or injected through an account's simulator).
        return False

    def has_change_permission(self, request, obj=None):
        # What WhatsApp delivered (a received message's text, sender, file) is a record: shown,
        # never rewritten; outbound payloads and the chat page already told it as it came.
        if obj is not None and obj.direction == Message.RECEIVED:
            return False
        return super().has_change_permission(request, obj)

    @admin.display(description="Text")
    def short_text(self, obj):
        return Truncator(obj.text).chars(60)


@admin.register(WahaConnection)
class WahaConnectionAdmin(admin.ModelAdmin):
    """WAHA sessions; the reconciliation sweep's columns count the messages it stored that no
    event had brought (whatsapp/waha_sweep.py)."""

    list_display = [
        "session", "base_url", "workspace", "account", "status", "server_version",
        "swept_at", "last_recovered", "recovered", "updated_at",
    ]  # fmt: skip
    list_filter = ["status"]
    search_fields = ["session", "base_url", "workspace__name", "account__phone"]
    readonly_fields = [
        "secret", "status", "server", "swept_at", "last_recovered", "recovered",
        "created_at", "updated_at",
    ]  # fmt: skip
    list_select_related = ["workspace", "account"]

    @admin.display(description="WAHA")
    def server_version(self, obj):
        return str(Server.from_answer(obj.server))

    raw_id_fields = ["workspace", "account", "created_by"]


@admin.register(EarlyAck)
class EarlyAckAdmin(ReadOnlyAdmin):
    """Delivery reports that outran the sender, waiting for it to record their send (usually a
    fraction of a second). Read-only: the sender applies them, its tick forgets stale ones."""

    list_display = ["external_id", "status", "account", "at", "received_at"]
    list_select_related = ["account"]
    search_fields = ["external_id", "account__phone"]


@admin.register(MediaFile)
class MediaFileAdmin(ReadOnlyAdmin):
    """The files messages carry (SPEC M): where each is stored, or why it is not. Read-only: the
    download worker, the sender and retention write them."""

    list_display = ["message", "state", "size", "workspace", "stored_at", "attempts", "reason"]
    list_filter = ["state"]
    list_select_related = ["message", "workspace"]
    search_fields = ["message__message_id", "name"]
