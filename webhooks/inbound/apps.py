from django.apps import AppConfig


class InboundConfig(AppConfig):
    name = "webhooks.inbound"
    label = "inbound"
    verbose_name = "Inbound webhooks"
