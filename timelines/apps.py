from django.apps import AppConfig


class TimelinesConfig(AppConfig):
    name = "timelines"
    verbose_name = "Timelines"

    def ready(self):
        from timelines import feedback  # noqa: F401  (connects the sign-in/out messages)
