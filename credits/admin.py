"""Credits in the admin: balances with a grant action and form; the ledger, read-only."""

from django import forms
from django.contrib import admin, messages
from django.shortcuts import redirect, render
from django.urls import path, reverse

from credits.models import Balance, LedgerEntry, QuotaExceeded, grant
from timelines.admin import ReadOnlyAdmin
from timelines.models import Workspace


class GrantForm(forms.Form):
    workspaces = forms.ModelMultipleChoiceField(queryset=Workspace.objects.all())
    amount = forms.IntegerField(
        help_text="Credits to add; a negative amount removes credits (never below zero)."
    )
    reason = forms.CharField(max_length=200, required=False)

    def clean_amount(self):
        amount = self.cleaned_data["amount"]
        if amount == 0:
            raise forms.ValidationError("The amount must not be zero.")
        return amount


@admin.register(Balance)
class BalanceAdmin(admin.ModelAdmin):
    list_display = ["workspace", "balance", "updated_at"]
    search_fields = ["workspace__name"]
    ordering = ["workspace__name"]
    actions = ["grant_credits"]

    # The balance only moves through the ledger (grant, reserve, refund): "Add" opens the grant
    # form, which also reaches workspaces that never had credits (and so have no row yet).
    def add_view(self, request, form_url="", extra_context=None):
        return redirect("admin:credits_balance_grant")

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        view = self.admin_site.admin_view(self.grant_view)
        return [path("grant/", view, name="credits_balance_grant"), *super().get_urls()]

    @admin.action(description="Grant credits to the selected workspaces")
    def grant_credits(self, request, queryset):
        ids = ",".join(str(pk) for pk in queryset.values_list("workspace_id", flat=True))
        return redirect(f"{reverse('admin:credits_balance_grant')}?workspaces={ids}")

    def grant_view(self, request):
        selected = [i for i in request.GET.get("workspaces", "").split(",") if i.isdigit()]
        form = GrantForm(request.POST or None, initial={"workspaces": selected})
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            for workspace in data["workspaces"]:
                self._grant(request, workspace, data["amount"], data["reason"])
            return redirect("admin:credits_balance_changelist")
        context = {
            **self.admin_site.each_context(request),
            "title": "Grant credits",
            "form": form,
            "opts": self.model._meta,
        }
        return render(request, "admin/credits/grant.html", context)

    def _grant(self, request, workspace, amount, reason):
        try:
            balance = grant(workspace, amount, reason or "Granted in the admin")
        except QuotaExceeded as exc:
            self.message_user(request, f"{workspace}: {exc}", messages.ERROR)
        else:
            self.message_user(request, f"{workspace}: balance is now {balance}.")


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "workspace", "kind", "amount", "reason", "message_ref"]
    list_filter = ["kind", "created_at"]
    search_fields = ["workspace__name", "message_ref", "reason"]
    date_hierarchy = "created_at"
    # Append-only: entries are written by grant / reserve / refund, never edited.
