"""Test settings: the production settings with a throwaway key and temporary state paths."""

import os
import tempfile

os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key-not-for-production")
os.environ.setdefault("DJANGO_SECURE", "false")
os.environ.setdefault("SMILES_VAR_DIR", tempfile.mkdtemp(prefix="smiles-site-test-"))

from .settings import *  # noqa: E402,F403
