#!/usr/bin/env python
import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "timelines.settings")
    try:
        from django.core.exceptions import ImproperlyConfigured
        from django.core.management import execute_from_command_line
    except ImportError:
        sys.exit(
            "Error: Django is not installed for this Python. Run `make install` once, then "
            "`.venv/bin/python manage.py …`."
        )

    try:
        # Settings are read here first: a missing SECRET_KEY (or DEBUG) is a one-line error that
        # says what to set, not a traceback through Django's import machinery.
        from django.conf import settings

        settings.INSTALLED_APPS  # noqa: B018 (loads the settings)
    except ImproperlyConfigured as exc:
        sys.exit(f"Error: {exc}")
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
