from django.apps import AppConfig
from django.db.models.signals import post_migrate


class OutboundConfig(AppConfig):
    name = "webhooks.outbound"
    label = "outbound"
    verbose_name = "Outbound webhooks"

    def ready(self):
        from timelines import keeper
        from webhooks.outbound import dispatch, events, tasks  # noqa: F401  (connects receivers)

        keeper.on_alarm(dispatch.ALARM, dispatch.wake)

        post_migrate.connect(tasks.ensure_schedules, sender=self, dispatch_uid="outbound-schedules")
