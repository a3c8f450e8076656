"""The tree stays ruff-formatted and lint-clean (configuration in pyproject.toml)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUFF = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")


@pytest.mark.skipif(RUFF is None, reason="ruff is not installed (requirements-dev.txt)")
@pytest.mark.parametrize("command", [["check", "."], ["format", "--check", "."]])
def test_ruff(command):
    result = subprocess.run([RUFF, *command], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def _imported_modules(path: Path) -> set[str]:
    import ast

    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            names.add("." * node.level + (node.module or ""))
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


@pytest.mark.parametrize("module", ["selectors.py", "profile_store.py"])
def test_core_read_path_does_not_depend_on_the_batch_package(module):
    """A prediction's page reads through selectors and fills a pending profile through
    profile_store; neither may reach into predictions/batch (the batch package builds on them)."""
    imported = _imported_modules(ROOT / "predictions" / module)
    assert not any(".batch" in name or name.startswith("predictions.batch") for name in imported)
