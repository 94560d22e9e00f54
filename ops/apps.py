from django.apps import AppConfig


class OpsConfig(AppConfig):
    """What an operator watches (SPEC H1–H3): health, metrics, the operations page. It reads
    every app below it and nothing imports it."""

    name = "ops"
    verbose_name = "Operations"
