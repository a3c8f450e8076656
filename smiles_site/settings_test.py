"""Old name of the test settings, kept for processes started with it."""

from smiles_site.settings.test import *  # noqa: F403
