from django.apps import AppConfig


class WhatsappConfig(AppConfig):
    name = "whatsapp"
    verbose_name = "WhatsApp"

    def ready(self):
        from django_q.signals import post_spawn

        from whatsapp import (
            checks,  # noqa: F401  (registers the WAHA servers' system check)
            sender,
        )
        from whatsapp.signals import account_status_changed

        post_spawn.connect(start_sender, dispatch_uid="whatsapp-start-sender")
        account_status_changed.connect(
            sender.running.on_account_status_changed, dispatch_uid="whatsapp-wake-on-connect"
        )


def start_sender(sender, proc_name, **kwargs):
    """A qcluster worker came up: start the paced sender's dispatchers now rather than at the
    first run of the one-minute schedule (which django-q only checks about every 30 s), and the
    keeper that restarts a dead one within seconds. Only in a worker process of a cluster: a
    task run inline (`sync=True`, tests) announces a worker too, in a process that is none."""
    import logging
    import multiprocessing

    from whatsapp import sender as paced_sender

    if multiprocessing.parent_process() is None:
        return
    try:
        paced_sender.ensure_dispatchers()
        paced_sender.Keeper.start()
    except Exception:  # never keep a worker from starting
        logging.getLogger(__name__).exception("could not start the paced sender")
