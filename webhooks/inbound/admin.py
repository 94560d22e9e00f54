from django.contrib import admin, messages

from timelines.admin import ReadOnlyAdmin
from webhooks.inbound.models import Attempt, IdempotencyKey, InboundWebhook


@admin.register(InboundWebhook)
class InboundWebhookAdmin(admin.ModelAdmin):
    list_display = ["workspace", "enabled", "regenerated_at", "created_at"]
    list_filter = ["enabled"]
    search_fields = ["workspace__name"]
    readonly_fields = ["url", "token_sha256", "created_at", "regenerated_at"]
    fields = ["workspace", "enabled", "url", "token_sha256", "created_at", "regenerated_at"]
    actions = ["regenerate", "enable", "disable"]

    def get_readonly_fields(self, request, obj=None):
        # The token is made by the model (regenerate), never typed in.
        return [*self.readonly_fields, "workspace"] if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if not change:
            fresh = InboundWebhook.for_workspace(obj.workspace)
            obj.pk, obj.token, obj.token_sha256 = fresh.pk, fresh.token, fresh.token_sha256
        super().save_model(request, obj, form, change)

    @admin.display(description="URL")
    def url(self, obj):
        return obj.url if obj.pk else "(generated on save)"

    @admin.action(description="Generate new URL (the old one stops working)")
    def regenerate(self, request, queryset):
        for webhook in queryset:
            webhook.regenerate()
        self.message_user(request, f"{len(queryset)} URL(s) regenerated.", messages.SUCCESS)

    @admin.action(description="Enable")
    def enable(self, request, queryset):
        for webhook in queryset:
            webhook.set_enabled(True)
        self.message_user(request, f"{len(queryset)} webhook(s) enabled.", messages.SUCCESS)

    @admin.action(description="Disable")
    def disable(self, request, queryset):
        for webhook in queryset:
            webhook.set_enabled(False)
        self.message_user(request, f"{len(queryset)} webhook(s) disabled.", messages.SUCCESS)


@admin.register(Attempt)
class AttemptAdmin(ReadOnlyAdmin):
    deletable = True  # a log: read, and delete if you must

    list_display = ["created_at", "workspace", "method", "status", "recipient_kind", "message_id"]
    list_filter = ["status", "recipient_kind", "replayed", "workspace"]
    search_fields = ["message_id", "body", "ip"]
    date_hierarchy = "created_at"
    list_select_related = ["workspace"]


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(ReadOnlyAdmin):
    deletable = True

    list_display = ["key", "workspace", "status", "created_at"]
    search_fields = ["key"]
    list_select_related = ["workspace"]
