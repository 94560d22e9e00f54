from datetime import UTC, timedelta

from django import forms
from django.utils import timezone

from webhooks.endpoints import event_types
from webhooks.endpoints.models import Endpoint
from whatsapp.models import Account


class EndpointForm(forms.ModelForm):
    class Meta:
        model = Endpoint
        fields = ["url", "event_type", "account", "enabled"]
        labels = {"account": "Only events of this WhatsApp account"}

    def __init__(self, *args, workspace, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.workspace = workspace
        self.fields["url"].widget = forms.URLInput(
            attrs={"placeholder": "https://example.com/hook"}
        )
        self.fields["event_type"].choices = event_types.CHOICES
        self.fields["account"].queryset = Account.objects.filter(workspace=workspace)
        self.fields["account"].empty_label = "All accounts"


class ReplayForm(forms.Form):
    FORMAT = "%Y-%m-%dT%H:%M"

    # A datetime-local box has no time zone of its own: the label and the help say it is UTC,
    # and the box starts at an hour ago in UTC, so the owner sees which clock it follows.
    since = forms.DateTimeField(
        label="Replay since (UTC)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=FORMAT),
        input_formats=[FORMAT, "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
        help_text="Date and time in UTC; every event sent to this webhook since then is sent "
        "again (events are kept 10 days).",
    )

    @staticmethod
    def an_hour_ago():
        return (timezone.now() - timedelta(hours=1)).astimezone(UTC).strftime(ReplayForm.FORMAT)
