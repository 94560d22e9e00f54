from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from timelines.admin import ReadOnlyAdmin
from webhooks.endpoints.models import ApiToken, Endpoint, Event


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "workspace",
        "event_type",
        "url",
        "account",
        "enabled",
        "consecutive_failures",
        "disabled_at",
    ]
    list_filter = ["enabled", "event_type"]
    search_fields = ["workspace__name", "url"]
    list_select_related = ["workspace", "account"]
    raw_id_fields = ["workspace", "account"]
    readonly_fields = [
        "consecutive_failures",
        "disabled_at",
        "disabled_reason",
        "created_at",
        "updated_at",
    ]
    actions = ["enable", "disable", "rotate_secret"]

    @admin.action(description="Enable (pending deliveries go out at once)")
    def enable(self, request, queryset):
        for endpoint in queryset:
            try:
                endpoint.change(enabled=True)
            except ValidationError as exc:
                self.message_user(request, f"{endpoint}: {exc.messages[0]}", messages.ERROR)
        self.message_user(request, "Enabled.")

    @admin.action(description="Disable (pending deliveries are kept)")
    def disable(self, request, queryset):
        for endpoint in queryset:
            endpoint.disable(reason=f"Switched off by {request.user} in the admin.")
        self.message_user(request, f"Disabled {queryset.count()} webhook(s).")

    @admin.action(description="Rotate the signing secret")
    def rotate_secret(self, request, queryset):
        for endpoint in queryset:
            endpoint.rotate_secret()
        self.message_user(request, f"New secret for {queryset.count()} webhook(s).")


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "workspace", "kind", "account", "chat_id", "webhook_id"]
    list_filter = ["kind"]
    search_fields = ["webhook_id", "workspace__name"]
    list_select_related = ["workspace", "account"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are created by the owner (page) or the CLI, which show the token once; here they
    are listed and revoked."""

    list_display = ["name", "workspace", "hint", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "workspace__name", "hint"]
    readonly_fields = ["workspace", "digest", "hint", "created_by", "created_at", "last_used_at"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Revoke (it stops working at once)")
    def revoke(self, request, queryset):
        for token in queryset:
            token.revoke()
        self.message_user(request, f"Revoked {queryset.count()} token(s).")
