"""gunicorn's error and access logs, as gunicorn.conf.py sets them up: through the app's
formatters (timelines.logconfig), so they follow LOG_FORMAT and never carry a secret (SPEC P6,
H4) — the access log's request line and referer included, whatever access_log_format says."""

import logging
import os

from gunicorn import glogging

from timelines.logconfig import JsonFormatter, Redacted


class Logger(glogging.Logger):
    def setup(self, cfg):
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                inner = handler.formatter or logging.Formatter()
                handler.setFormatter(JsonFormatter() if _json() else Redacted(inner))


def _json():
    # The settings module reads and checks LOG_FORMAT; gunicorn's master sets its logs up
    # before it loads the app, so it reads them here.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "timelines.settings")
    from django.conf import settings

    return settings.LOG_FORMAT == "json"
