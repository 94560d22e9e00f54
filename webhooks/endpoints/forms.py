from django import forms

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
    since = forms.DateTimeField(
        label="Replay since (UTC)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
    )
