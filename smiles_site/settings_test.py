"""Test settings: the production settings with a throwaway key and temporary state paths."""

import os
import tempfile

os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key-not-for-production")
os.environ.setdefault("DJANGO_SECURE", "false")
os.environ.setdefault("SMILES_VAR_DIR", tempfile.mkdtemp(prefix="smiles-site-test-"))

from .settings import *  # noqa: E402,F403

# Tests serve static files from the finders (no collectstatic step, no manifest needed).
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
STATIC_ROOT = VAR_DIR / "staticfiles"  # noqa: F405
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_USE_FINDERS = True
