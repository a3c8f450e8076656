"""The test suite's settings: production's, with a throwaway key, no HTTPS, temporary state.

Set here, not through the environment. What is read from the environment still is, so a test
can start a process of its own (`manage.py`, a worker) with DJANGO_SETTINGS_MODULE pointing
here and its own SMILES_VAR_DIR, SQLITE_PATH, HUEY_SQLITE_PATH, REDIS_URL, ...
"""

import tempfile
from pathlib import Path

from . import *  # noqa: F403
from .security import https
from .state import under, var_dir

SECRET_KEY = "test-only-secret-key-not-for-production"
globals().update(https(secure=False))

# Writable state in a temporary directory (a process started by a test may be handed one).
globals().update(under(var_dir(None) or Path(tempfile.mkdtemp(prefix="smiles-site-test-"))))

# Per-visitor throttles on uploads and heavy downloads: every test client is 127.0.0.1, so
# they are off here; tests/api/test_visitor_throttles.py turns them on.
BATCH_UPLOAD_RATE = "off"
HEAVY_DOWNLOAD_RATE = "off"

# Tests serve static files from the finders (no collectstatic step, no manifest needed).
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
STATIC_ROOT = VAR_DIR / "staticfiles"  # noqa: F405
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_USE_FINDERS = True
