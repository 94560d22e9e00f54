from django.apps import AppConfig


class WhatsappConfig(AppConfig):
    name = "whatsapp"
    verbose_name = "WhatsApp"

    def ready(self):
        from timelines import keeper
        from whatsapp import (
            checks,  # noqa: F401  (registers the WAHA servers' system check)
            sender,
        )
        from whatsapp.signals import account_status_changed

        # A dispatcher that died (a killed or frozen process) is replaced as soon as its lease
        # expires, and a worker coming up starts the dispatchers at once, not at the next tick.
        keeper.every_round("paced sender", sender.ensure_dispatchers)
        account_status_changed.connect(
            sender.running.on_account_status_changed, dispatch_uid="whatsapp-wake-on-connect"
        )
