from django.contrib import admin
from django.db.models import Count

from timelines.models import Lease, Membership, Workspace

# The admin's side menu takes a quarter of a 1280-pixel screen, pushing list columns out of
# sight; the home page and the breadcrumbs lead everywhere it does.
admin.site.enable_nav_sidebar = False


class ReadOnlyAdmin(admin.ModelAdmin):
    """For rows the product writes itself (logs, ledgers, leases): listed and read, never added
    or edited by hand, which would break what they record. Deleting stays allowed where a
    subclass says so."""

    deletable = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return self.deletable and super().has_delete_permission(request, obj)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]
    readonly_fields = ["joined_at"]


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    list_display = ["name", "id", "owner", "members", "created_at"]
    list_select_related = ["owner"]
    search_fields = ["name", "owner__username", "owner__email"]
    date_hierarchy = "created_at"
    raw_id_fields = ["owner"]
    readonly_fields = ["created_at"]
    inlines = [MembershipInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(member_count=Count("memberships"))

    @admin.display(ordering="member_count")
    def members(self, obj):
        return obj.member_count

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # After the inlines, so that the owner always ends up a member with the owner role,
        # whatever was typed in them.
        form.instance.sync_owner_membership()


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "workspace", "role", "joined_at"]
    list_filter = ["role", "workspace"]
    list_select_related = ["user", "workspace"]
    search_fields = ["workspace__name", "user__username", "user__email"]
    raw_id_fields = ["user", "workspace"]
    readonly_fields = ["joined_at"]


@admin.register(Lease)
class LeaseAdmin(ReadOnlyAdmin):
    """Which loops run, where, and since when (an expiry in the past: none holds it now).
    Read-only: the loops keep these rows themselves (timelines/workers.py)."""

    list_display = ["name", "holder", "until", "renewed_at", "taken_at"]
    search_fields = ["name", "holder"]
