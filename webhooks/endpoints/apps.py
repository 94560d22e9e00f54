from django.apps import AppConfig
from django.db.models.signals import post_migrate


class EndpointsConfig(AppConfig):
    name = "webhooks.endpoints"
    label = "endpoints"
    verbose_name = "Webhooks v2"

    def ready(self):
        from webhooks.endpoints import events, tasks  # noqa: F401  (connects the receivers)

        post_migrate.connect(tasks.ensure_schedules, sender=self, dispatch_uid="endpoints-schedule")
