"""A real `manage.py run_huey` worker, killed (SIGKILL) mid-batch and started again.

Runs in separate processes against a file SQLite database and SqliteHuey file of its own
(pytest-django's test database is in memory and invisible to other processes), and reads
the outcome with plain sqlite3. The model is the settings default, as everywhere.
"""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow
SUBSTITUENTS = ["F", "Cl", "Br", "C", "OC", "C(F)(F)F", "C#N", "N(C)C", "O", "CC"]
RINGS = ["c1ccc({})cc1", "c1cccc({})c1", "c1ccccc1{}"]
AMINES = [
    f"N{'C' * k}{end}" for k in range(1, 6) for end in ["", "O", "F", "N", "C(C)C", "c1ccccc1"]
]


def molecules() -> list[str]:
    return [
        f"O=C({ring.format(s)}){amine}" for ring in RINGS for s in SUBSTITUENTS for amine in AMINES
    ]


def _env(tmp_path: Path) -> dict:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "smiles_site.settings_test",
        "SMILES_VAR_DIR": str(tmp_path),
        "SQLITE_PATH": str(tmp_path / "db.sqlite3"),
        "HUEY_SQLITE_PATH": str(tmp_path / "huey.sqlite3"),
        "HUEY_IMMEDIATE": "false",
        "BATCH_CHUNK_ROWS": "10",
        "BATCH_LEASE_SECONDS": "2",
        "TORCH_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }


def _manage(env, *args, **kwargs):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
        **kwargs,
    )


def _worker(env, log: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_huey", "--workers", "1"],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    return process


def _state(db: Path) -> tuple[int, int, str]:
    with sqlite3.connect(db, timeout=20) as connection:
        return connection.execute(
            "SELECT rows_processed, total_rows, status FROM predictions_batch"
        ).fetchone()


def _holder(db: Path) -> str:
    with sqlite3.connect(db, timeout=20) as connection:
        return connection.execute("SELECT lease_owner FROM predictions_batch").fetchone()[0]


def _wait(db: Path, done, seconds: float, worker: subprocess.Popen, log: Path):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        state = _state(db)
        if done(state):
            return state
        assert worker.poll() is None, log.read_text()[-3000:]
        time.sleep(0.02)
    pytest.fail(
        f"worker did not get there in {seconds} s; state {_state(db)}\n{log.read_text()[-3000:]}"
    )


def store_batch(env: dict, tmp_path: Path, smiles: list[str]) -> None:
    """Migrate the database and store a batch of `smiles` (IDs M1, M2...) as an upload."""
    (tmp_path / "in.csv").write_text(
        "id,smiles\n" + "".join(f"M{i},{s}\n" for i, s in enumerate(smiles, 1))
    )
    _manage(env, "migrate", "-v", "0")
    _manage(
        env,
        "shell",
        "-c",
        (
            "from django.core.files.uploadedfile import SimpleUploadedFile as F;"
            "from batches.services import batch_create;"
            f"batch_create(upload=F('in.csv', open({str(tmp_path / 'in.csv')!r}, 'rb').read()))"
        ),
    )


def _start_and_kill(env: dict, tmp_path: Path, db: Path, log: Path) -> tuple[int, int]:
    """Store a batch of `molecules()`, start a worker, SIGKILL it mid-batch.

    Returns the rows done by then and the killed worker's pid."""
    smiles = molecules()
    store_batch(env, tmp_path, smiles)
    worker = _worker(env, log)
    try:
        processed, total, _ = _wait(db, lambda s: s[0] >= 50, 90, worker, log)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    assert total == len(smiles) and processed < total, "the batch finished before the kill"
    return _state(db)[0], worker.pid


def test_worker_killed_mid_batch_resumes_with_every_row_once(tmp_path):
    env, db, log = _env(tmp_path), tmp_path / "db.sqlite3", tmp_path / "worker.log"
    smiles = molecules()
    killed_at, _ = _start_and_kill(env, tmp_path, db, log)

    worker = _worker(env, log)
    try:
        _wait(db, lambda s: s[2] == "done", 120, worker, log)
    finally:
        worker.terminate()
        worker.wait(timeout=30)

    assert_every_row_once(db, smiles)
    assert 0 < killed_at < len(smiles)


def assert_every_row_once(db: Path, smiles: list[str]) -> None:
    """The batch in `db` is done: each input row stored once, in order, each molecule once."""
    with sqlite3.connect(db) as connection:
        rows = connection.execute(
            "SELECT row_number, input_id, status, prediction_id FROM predictions_batchrow ORDER BY row_number"
        ).fetchall()
        predictions = connection.execute(
            "SELECT COUNT(*), COUNT(DISTINCT canonical_smiles) FROM predictions_prediction"
        ).fetchone()
        counts = connection.execute(
            "SELECT done_count, failed_count, rows_processed, status FROM predictions_batch"
        ).fetchone()
    assert [r[0] for r in rows] == list(range(1, len(smiles) + 1))  # every row, once, in order
    assert [r[1] for r in rows] == [f"M{i}" for i in range(1, len(smiles) + 1)]
    assert all(r[2] == "ok" and r[3] for r in rows)
    assert predictions == (len(smiles), len(smiles))  # each molecule predicted and stored once
    assert counts == (len(smiles), 0, len(smiles), "done")


def test_a_restarted_worker_resumes_an_orphaned_batch_before_the_lease_ends(tmp_path):
    """The killed worker's lease (10 minutes here) still runs: the new worker on this host sees
    that the process named in it is gone and resumes at start-up (Huey's on_startup hook)."""
    env, db, log = _env(tmp_path), tmp_path / "db.sqlite3", tmp_path / "worker.log"
    env["BATCH_LEASE_SECONDS"] = "600"
    killed_at, pid = _start_and_kill(env, tmp_path, db, log)
    with sqlite3.connect(db) as connection:
        holder, until = connection.execute(
            "SELECT lease_owner, lease_until FROM predictions_batch"
        ).fetchone()
    assert holder.split(":")[1] == str(pid)  # the lease names the killed process

    started = time.monotonic()
    worker = _worker(env, log)
    try:
        _wait(db, lambda s: _holder(db) != holder, 120, worker, log)
        claimed_after = time.monotonic() - started
        _wait(db, lambda s: s[0] > killed_at, 120, worker, log)
        resumed_after = time.monotonic() - started
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    lease_end = datetime.fromisoformat(until).replace(tzinfo=UTC)
    assert datetime.now(UTC) < lease_end, "resumed only once the dead worker's lease ran out"
    print(
        f"after the restart: lease taken over in {claimed_after:.1f} s, next chunk stored in {resumed_after:.1f} s"
    )
