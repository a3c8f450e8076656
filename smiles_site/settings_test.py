"""Test settings: the production settings with a throwaway key and temporary state paths."""

import os
import tempfile

os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key-not-for-production")
os.environ.setdefault("DJANGO_SECURE", "false")
os.environ.setdefault("SMILES_VAR_DIR", tempfile.mkdtemp(prefix="smiles-site-test-"))
# Per-visitor throttles on uploads and heavy downloads: every test client is 127.0.0.1, so
# they are off here; tests/test_visitor_throttles.py turns them on.
os.environ.setdefault("BATCH_UPLOAD_RATE", "off")
os.environ.setdefault("HEAVY_DOWNLOAD_RATE", "off")

from .settings import *  # noqa: E402,F403

# Tests serve static files from the finders (no collectstatic step, no manifest needed).
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
STATIC_ROOT = VAR_DIR / "staticfiles"  # noqa: F405
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_USE_FINDERS = True
