from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from webhooks.outbound import dispatch
from webhooks.outbound.models import Attempt, Delivery, OutboundWebhook


@admin.register(OutboundWebhook)
class OutboundWebhookAdmin(admin.ModelAdmin):
    list_display = [
        "workspace",
        "url",
        "enabled",
        "granularity",
        "consecutive_failures",
        "skipped_attachments",
        "disabled_at",
    ]
    list_filter = ["enabled", "granularity"]
    search_fields = ["workspace__name", "url"]
    readonly_fields = [
        "consecutive_failures",
        "disabled_at",
        "disabled_reason",
        "skipped_attachments",
        "last_skipped_at",
        "window_start",
        "window_end",
        "created_at",
        "updated_at",
    ]
    actions = ["enable", "disable", "rotate_secret"]

    @admin.action(description="Enable (pending deliveries go out at once)")
    def enable(self, request, queryset):
        for webhook in queryset:
            try:
                webhook.enable()
            except ValidationError as exc:
                self.message_user(request, f"{webhook}: {exc.messages[0]}", messages.ERROR)
            else:
                self.message_user(request, f"Enabled {webhook}.")

    @admin.action(description="Disable (pending deliveries are kept)")
    def disable(self, request, queryset):
        for webhook in queryset:
            webhook.disable(reason=f"Switched off by {request.user} in the admin.")
        self.message_user(request, f"Disabled {queryset.count()} webhook(s).")

    @admin.action(description="Rotate the signing secret")
    def rotate_secret(self, request, queryset):
        for webhook in queryset:
            webhook.rotate_secret()
        self.message_user(request, f"New secret for {queryset.count()} webhook(s).")


def _redeliver(modeladmin, request, deliveries):
    for delivery in deliveries:
        dispatch.redeliver(delivery)
    count = len(deliveries)
    modeladmin.message_user(request, f"Queued {count} redeliver{'y' if count == 1 else 'ies'}.")


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    # Few, short columns: the list must fit a laptop screen (the rest is on each row's page).
    list_display = [
        "event_id",
        "workspace",
        "endpoint",
        "chat",
        "contents",
        "state",
        "attempts",
        "last_status",
        "next_attempt_at",
    ]
    list_filter = ["state", "kind"]
    search_fields = ["event_id", "webhook__workspace__name", "webhook__url"]
    raw_id_fields = ["webhook", "endpoint", "source_event", "chat", "message", "redelivery_of"]
    list_select_related = ["webhook__workspace", "endpoint__workspace", "chat"]
    actions = ["redeliver"]

    @admin.action(description="Redeliver")
    def redeliver(self, request, queryset):
        _redeliver(self, request, list(queryset))

    @admin.display(ordering="webhook__workspace__name")
    def workspace(self, obj):
        return obj.target.workspace

    @admin.display(description="Contents", ordering="message_count")
    def contents(self, obj):
        if obj.kind == Delivery.EVENT:
            return "Event (v2)"
        if obj.kind == Delivery.BUNDLE:
            return f"Bundle of {obj.message_count}"
        return "Message"


@admin.register(Attempt)
class AttemptAdmin(admin.ModelAdmin):
    list_display = [
        "at",
        "webhook",
        "endpoint",
        "delivery",
        "number",
        "status",
        "succeeded",
        "duration_ms",
    ]
    list_filter = ["succeeded", "status"]
    search_fields = ["delivery__event_id", "url", "error"]
    raw_id_fields = ["webhook", "endpoint", "delivery"]
    list_select_related = ["webhook__workspace", "endpoint", "delivery"]
    actions = ["redeliver"]

    @admin.action(description="Redeliver the delivery of these attempts")
    def redeliver(self, request, queryset):
        deliveries = {attempt.delivery_id: attempt.delivery for attempt in queryset}
        _redeliver(self, request, list(deliveries.values()))

    def has_add_permission(self, request):
        return False
