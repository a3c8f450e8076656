"""The floor plan holds: each app builds only on those below it, and moving the batch models
out of `predictions` kept every row of a database made before the move."""

from __future__ import annotations

import ast
import json
import sqlite3
from pathlib import Path

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from batches.models import Batch, BatchChunk, BatchRow
from predictions.models import Prediction
from tests.site.test_settings import run_manage, slow

ROOT = Path(__file__).resolve().parents[2]

# Bottom to top: a module may import its own package and those before it, never one after.
LAYERS = ["chemcore", "chemreport", "molfiles", "predictions", "batches", "api", "smiles_site"]
# Beside the site: training builds the model package's checkpoint and knows nothing of the web.
BESIDE = {"training": {"chemcore", "training"}}
WEB = {"django", "rest_framework", "drf_spectacular", "huey", "django_htmx", "csp", "axes"}


def _imports(path: Path) -> set[str]:
    """Top-level package of every import in `path`, relative ones resolved."""
    package = path.relative_to(ROOT).parent.parts
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative: counted from the module's own package
                base = package[: len(package) - node.level + 1]
                found.add(base[0] if base else (node.module or "").split(".")[0])
            else:
                found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
    return found


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", LAYERS[:-1])
def test_no_app_imports_one_above_it(package):
    allowed = set(LAYERS[: LAYERS.index(package) + 1])
    upward = {
        f"{path.relative_to(ROOT)} imports {name}"
        for path in _modules(package)
        for name in _imports(path) & (set(LAYERS) - allowed)
    }
    assert not upward


def test_the_django_free_packages_and_training_know_nothing_of_the_web():
    for package in ("chemcore", "chemreport", "molfiles", "training"):
        site = set(LAYERS) - BESIDE.get(package, {"chemcore", "chemreport", "molfiles"})
        for path in _modules(package):
            assert not _imports(path) & (site | WEB), path.relative_to(ROOT)


def test_the_check_sees_an_upward_import(tmp_path):
    """The rule is read from the code as written: an upward import is found."""
    module = ROOT / "predictions" / "_upward_probe.py"
    module.write_text("from batches.models import Batch\n")
    try:
        assert "batches" in _imports(module)
        with pytest.raises(AssertionError):
            test_no_app_imports_one_above_it("predictions")
    finally:
        module.unlink()


# A database written by `main` before the split (ec52712): the schema of predictions 0001-0007,
# two predictions, a finished batch (three rows, two chunks) and a group with batch permissions.
MAIN_DUMP = ROOT / "tests" / "data" / "db_from_main_ec52712.sql"
READ_BACK = """
import json
from django.contrib.auth.models import Group
from batches.models import Batch
batch = Batch.objects.get()
print(json.dumps({
    "batch": [batch.public_id, batch.status, batch.total_rows, batch.done_count],
    "rows": [[r.row_number, r.status, r.prediction.public_id if r.prediction else None,
              r.canonical_smiles, r.error] for r in batch.rows.all()],
    "chunks": [[c.index, c.kind, c.status, c.done_count] for c in batch.chunks.all()],
    "predictions": sorted(batch.rows.values_list("prediction__canonical_smiles", flat=True)
                          .exclude(prediction=None)),
    "permissions": sorted(f"{p.content_type.app_label}.{p.codename}"
                          for p in Group.objects.get().permissions.all()),
}))
"""


@slow
def test_a_database_made_by_main_before_the_split_migrates_in_place(tmp_path):
    path = tmp_path / "db.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(MAIN_DUMP.read_text())
        tables_before = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    migrated = run_manage("migrate", "--no-input", SQLITE_PATH=str(path))
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    assert "Applying batches.0001_initial... OK" in migrated.stdout
    with sqlite3.connect(path) as db:
        tables_after = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    assert {"predictions_batch", "predictions_batchrow", "predictions_batchchunk"} <= tables_after
    assert tables_before <= tables_after  # nothing dropped, nothing copied to a new table

    read = run_manage("shell", "--no-imports", "-c", READ_BACK, SQLITE_PATH=str(path))
    assert read.returncode == 0, read.stderr
    found = json.loads(read.stdout.strip().splitlines()[-1])
    assert found["batch"] == ["z37evxjz7ewa7pmvtxnx7t2z", "done", 3, 2]
    assert [row[:2] for row in found["rows"]] == [[1, "ok"], [2, "ok"], [3, "error"]]
    assert found["rows"][2][4] == "unclosed ring" and found["rows"][0][3] == "CCO"
    assert found["chunks"] == [[0, "rows", "done", 2], [1, "profiles", "done", 0]]
    assert found["predictions"] == ["CCO", "Oc1ccccc1"]
    # The content types moved with the models: curators keep their permissions.
    assert found["permissions"] == ["batches.change_batchrow", "batches.view_batch"]


@pytest.mark.django_db(transaction=True)
def test_moving_the_batch_models_back_and_forth_keeps_their_rows(make_prediction):
    """On whichever database the suite runs (SQLite, or MongoDB with MONGODB_URI): unapply the
    move, store rows as the old `predictions` models, apply it, read them as `batches`'."""
    prediction = make_prediction("CCO")
    executor = MigrationExecutor(connection)
    before = [("predictions", "0007_batch_chunks"), ("batches", None)]
    executor.migrate(before)
    old = executor.loader.project_state(("predictions", "0007_batch_chunks")).apps
    OldBatch = old.get_model("predictions", "Batch")
    batch = OldBatch.objects.create(filename="old.smi", input_path="", file_format="smi")
    old.get_model("predictions", "BatchRow").objects.create(
        batch=batch, row_number=1, status="ok", prediction_id=prediction.pk, canonical_smiles="CCO"
    )
    old.get_model("predictions", "BatchChunk").objects.create(batch=batch, index=0, last_row=1)

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    moved = Batch.objects.get(public_id=batch.public_id)
    assert moved.filename == "old.smi"
    assert BatchRow.objects.get(batch=moved).prediction == Prediction.objects.get(pk=prediction.pk)
    assert BatchChunk.objects.filter(batch=moved).count() == 1
