"""Settings for the test suite: the project's settings with test-only defaults."""

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "test-only-secret-key")
# The tests' receivers and fake servers listen on 127.0.0.1; tests of the private-address guard
# turn this off again with override_settings.
os.environ.setdefault("ALLOW_PRIVATE_URLS", "true")
os.environ.setdefault("SITE_URL", "http://testserver")

from timelines.settings import *  # noqa: E402,F403

# Uploaded files go to a directory of their own per test run.
MEDIA_ROOT = tempfile.mkdtemp(prefix="timelines-media-")

DEMO_PASSWORD_FILE = os.path.join(MEDIA_ROOT, ".demo-password")

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# WhiteNoise scans STATIC_ROOT at start-up unless it autorefreshes; the suite never runs
# collectstatic, so without this every test client warns that staticfiles/ is missing.
WHITENOISE_AUTOREFRESH = True
