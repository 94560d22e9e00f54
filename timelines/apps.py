from django.apps import AppConfig


class TimelinesConfig(AppConfig):
    name = "timelines"
    verbose_name = "Timelines"

    def ready(self):
        # Imported for their side effects: the system checks register themselves, and the
        # sign-in/out messages connect to the auth signals.
        from timelines import checks, feedback  # noqa: F401

        self.connect_log_context()
        self.start_the_keeper()

    @staticmethod
    def start_the_keeper():
        """Each qcluster worker process runs the keeper (timelines/keeper.py)."""
        from django_q.signals import post_spawn

        from timelines import keeper

        post_spawn.connect(keeper.start, dispatch_uid="timelines-keeper")

    @staticmethod
    def connect_log_context():
        """Which request or task a log line is about (timelines/logconfig.py)."""
        from django.core.signals import request_finished
        from django_q.signals import post_execute_in_worker, pre_execute

        from timelines import logconfig

        request_finished.connect(logconfig.request_finished, dispatch_uid="log-request-id")
        pre_execute.connect(logconfig.task_started, dispatch_uid="log-task-started")
        post_execute_in_worker.connect(logconfig.task_done, dispatch_uid="log-task-done")
