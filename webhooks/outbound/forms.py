"""The Outbound page's settings form (O1), for the UI: validates the URL like the model does and
applies the change through OutboundWebhook.configure."""

from django import forms

from webhooks.outbound.models import OutboundWebhook


class OutboundWebhookForm(forms.ModelForm):
    class Meta:
        model = OutboundWebhook
        fields = ["granularity", "url", "enabled"]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("enabled") and not cleaned.get("url"):
            self.add_error("url", "Enter the URL to notify before enabling the webhook.")
        return cleaned

    def save(self, commit=True):
        data = self.cleaned_data
        webhook = OutboundWebhook.objects.get(pk=self.instance.pk)
        return webhook.configure(
            url=data["url"], granularity=data["granularity"], enabled=data["enabled"]
        )
