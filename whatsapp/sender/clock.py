"""The sender's clock: real time, or a fake one that moves only when somebody sleeps."""

import threading
import time
from datetime import timedelta

from django.utils import timezone


class Clock:
    """Real time; tests pass a FakeClock."""

    def now(self):
        return timezone.now()

    def sleep(self, seconds):
        if seconds > 0:
            time.sleep(seconds)


class FakeClock(Clock):
    """Time that only moves when somebody sleeps: pacing tests run in milliseconds."""

    def __init__(self, start=None):
        self.current = start or timezone.now()
        self.lock = threading.Lock()

    def now(self):
        return self.current

    def sleep(self, seconds):
        with self.lock:
            self.current += timedelta(seconds=max(seconds, 0.001))
