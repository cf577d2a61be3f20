"""Settings of the test suite: the production settings (DEBUG off, as by default) with a test-only secret,
over plain http (the test client), and static files from the apps (the suite runs no collectstatic).

Tests do not depend on DEBUG=1; a test that needs it sets it. pyproject.toml names this module for pytest.
"""

import os

os.environ.setdefault("SECRET_KEY", "test-suite-only-secret-key-not-for-any-server-0123456789")
os.environ.setdefault("PORTAL_HTTPS", "0")

from portal.settings import *  # noqa: F403
from portal.settings import STORAGES

STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
WHITENOISE_USE_FINDERS = True
