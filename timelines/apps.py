from django.apps import AppConfig


class TimelinesConfig(AppConfig):
    name = "timelines"
    verbose_name = "Timelines"

    def ready(self):
        # Imported for their side effects: the system checks register themselves, and the
        # sign-in/out messages connect to the auth signals.
        from timelines import checks, feedback  # noqa: F401
