"""Writable state: VAR_DIR (SMILES_VAR_DIR) and every setting whose default lies under it.

The production settings derive them from ./var; the test settings derive them again, from a
temporary directory, by calling `under()` with it.
"""

from pathlib import Path

from . import limits, queue
from .database import databases
from .env import env_path


def var_dir(default: Path | None) -> Path | None:
    """SMILES_VAR_DIR, else `default`."""
    return env_path("SMILES_VAR_DIR", default)


def under(var_dir: Path) -> dict:
    """VAR_DIR (created) and the settings derived from it: DATABASES (the SQLite file),
    CACHES and RENDER_CACHE_DIR, HUEY (the SQLite queue), upload and export directories.
    Each one's own variable (SQLITE_PATH, HUEY_SQLITE_PATH, ...) still wins."""
    var_dir.mkdir(parents=True, exist_ok=True)
    return {
        "VAR_DIR": var_dir,
        "DATABASES": databases(var_dir),
        **queue.state(var_dir),
        **limits.state(var_dir),
    }
