from django.apps import AppConfig


class OutboundConfig(AppConfig):
    name = "webhooks.outbound"
    label = "outbound"
    verbose_name = "Outbound webhooks"
