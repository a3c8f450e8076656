"""A newcomer's route into the admin: scripts/create_curator.sh on a fresh install (no
DJANGO_SECRET_KEY, no DJANGO_DEBUG), where `manage.py createsuperuser` alone fails."""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow  # migrates a fresh database in a new process


def _fresh_env(tmp_path: Path) -> dict[str, str]:
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "MONGODB_", "PREDICTION_", "SQLITE_", "SMILES_"))
    }
    environ.update(
        SMILES_VAR_DIR=str(tmp_path),
        VENV=str(Path(sys.executable).parent.parent),
        DJANGO_SETTINGS_MODULE="smiles_site.settings",
    )
    return environ


def test_create_curator_works_on_a_fresh_install(tmp_path):
    environ = _fresh_env(tmp_path)
    plain = subprocess.run(
        [sys.executable, "manage.py", "createsuperuser", "--noinput", "--username", "x"],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert plain.returncode != 0 and "DJANGO_SECRET_KEY is not set" in plain.stderr
    done = subprocess.run(
        ["scripts/create_curator.sh", "--noinput", "--username", "ada", "--email", "a@example.org"],
        cwd=ROOT,
        env={**environ, "DJANGO_SUPERUSER_PASSWORD": "correct horse battery staple"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Superuser created successfully" in done.stdout
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        rows = db.execute("SELECT username, is_staff, is_superuser FROM auth_user").fetchall()
    assert rows == [("ada", 1, 1)]


def test_the_readme_documents_it():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "./scripts/create_curator.sh" in readme
