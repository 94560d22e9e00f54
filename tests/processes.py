"""`manage.py` in a process of its own, for what is settled when the settings are imported (the
SECRET_KEY check, the log format): the project's settings, not the tests'."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def manage(*args, **env):
    """Run `manage.py *args` with the environment's SECRET_KEY, DEBUG and SITE_URL left out
    (and `env` added); the CompletedProcess, output as text."""
    base = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG", "SITE_URL"}}
    base["DJANGO_SETTINGS_MODULE"] = "timelines.settings"
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
