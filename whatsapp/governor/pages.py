"""The governor on the accounts page (SPEC G1, G3): each account's policy form (the owner's; a
member sees it read-only), with the values recommended for a new number, and a banner for each
paused account with its reason, its end and a Resume button."""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.views.decorators.http import require_POST

from timelines.access import workspace_for_owner
from whatsapp.governor import pauses, policy
from whatsapp.models import PAUSE_ALL, Account

FIELDS = ["new_contacts_per_day", "quiet_from", "quiet_to", "time_zone", "check_numbers"]


class PolicyForm(forms.ModelForm):
    class Meta:
        model = Account
        fields = FIELDS
        widgets = {
            "quiet_from": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "quiet_to": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "new_contacts_per_day": forms.NumberInput(attrs={"min": 0, "placeholder": "no cap"}),
        }
        labels = {"time_zone": "Time zone", "check_numbers": "Check a new number first"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, prefix=f"policy-{kwargs['instance'].pk}", **kwargs)

    def clean(self):
        data = super().clean()
        start, end = data.get("quiet_from"), data.get("quiet_to")
        if (start is None) != (end is None):
            raise ValidationError("Give both ends of the quiet hours, or neither.")
        if start is not None and start == end:
            raise ValidationError("Quiet hours must start and end at different times.")
        return data


def recommended_changes():
    start, end = policy.parse_quiet_hours(policy.RECOMMENDED["quiet_hours"])
    return {
        "new_contacts_per_day": policy.RECOMMENDED["new_contacts_per_day"],
        "quiet_from": start,
        "quiet_to": end,
        "check_numbers": policy.RECOMMENDED["check_numbers"],
    }


def decorate(accounts, is_owner):
    """Give each account of the page its policy form and, when paused, what the banner says."""
    now = timezone.now()
    for account in accounts:
        account.policy_form = PolicyForm(instance=account)
        account.pause_active = policy.pause_active(account, now)
        account.new_contacts_left = policy.new_contacts_left(account, now)
    return [account for account in accounts if account.pause_active]


def _account(request, workspace_id, account_id):
    workspace = workspace_for_owner(request, workspace_id)
    return get_object_or_404(Account, pk=account_id, workspace=workspace)


def _back(account):
    return redirect(f"/w/{account.workspace_id}/accounts/#policy-{account.pk}")


@require_POST
def save_policy(request, workspace_id, account_id):
    account = _account(request, workspace_id, account_id)
    if "recommended" in request.POST:
        policy.set_policy(account, **recommended_changes())
        messages.success(request, f"{account.phone}: the recommended values are set.")
        return _back(account)
    form = PolicyForm(request.POST, instance=Account.objects.get(pk=account.pk))
    if not form.is_valid():
        errors = "; ".join(str(e) for errors in form.errors.values() for e in errors)
        messages.error(request, f"{account.phone}: not saved: {errors}")
        return _back(account)
    policy.set_policy(account, **{name: form.cleaned_data[name] for name in FIELDS})
    messages.success(request, f"{account.phone}: sending policy saved.")
    return _back(account)


@require_POST
def pause(request, workspace_id, account_id):
    account = _account(request, workspace_id, account_id)
    pauses.pause(account.pk, PAUSE_ALL, None, pauses.OWNER_PAUSE, by_owner=True)
    messages.success(request, f"{account.phone}: sending paused until you resume it.")
    return _back(account)


@require_POST
def resume(request, workspace_id, account_id):
    account = _account(request, workspace_id, account_id)
    pauses.resume(account.pk)
    messages.success(request, f"{account.phone}: sending resumed.")
    return _back(account)
