"""A real `run_huey` worker SIGKILLed during a batch's profile pass, then started again: the
resumed batch fills the profiles left pending and only then is done (batches/worker/profiles.py)."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chemreport.profile import profile_for_smiles
from tests.batches.test_batch_worker import ROOT, _env, _wait, _worker, molecules, store_batch

pytestmark = pytest.mark.slow
ROWS = 200


def _profiles(db) -> tuple[str, int, int]:
    with sqlite3.connect(db, timeout=20) as connection:
        return connection.execute(
            "SELECT stage, profiled_rows, done_count FROM predictions_batch"
        ).fetchone()


def test_a_worker_killed_during_the_profile_pass_leaves_no_row_without_its_profile(tmp_path):
    env, db, log = _env(tmp_path), tmp_path / "db.sqlite3", tmp_path / "worker.log"
    env["BATCH_CHUNK_ROWS"] = "50"
    env["BATCH_PROFILE_PROCESSES"] = "0"  # every profile in the pass, where the kill lands
    smiles = molecules()[:ROWS]
    store_batch(env, tmp_path, smiles)
    worker = _worker(env, log)
    try:
        _wait(
            db,
            lambda s: _profiles(db)[:1] == ("profiling",) and _profiles(db)[1] > 0,
            180,
            worker,
            log,
        )
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    stage, profiled, done = _profiles(db)
    assert stage == "profiling" and 0 < profiled < done == ROWS, (stage, profiled, done)

    worker = _worker(env, log)
    try:
        _wait(db, lambda s: s[2] == "done", 180, worker, log)
    finally:
        worker.terminate()
        worker.wait(timeout=30)

    with sqlite3.connect(db) as connection:
        rows = connection.execute(
            "SELECT canonical_smiles, profile, profile_pending FROM predictions_batchrow"
        ).fetchall()
        left = connection.execute(
            "SELECT COUNT(*) FROM predictions_prediction WHERE profile_pending"
        ).fetchone()[0]
    assert len(rows) == ROWS and left == 0
    assert all(not pending for _, _, pending in rows)
    for canonical, stored, _ in rows[::20]:
        assert json.loads(stored) == profile_for_smiles(canonical)
    assert _profiles(db) == ("", ROWS, ROWS)


HELPER_SCRIPT = """
import os, sys, time
import django
django.setup()
from batches.worker import profiles
print(profiles.helper_pool().submit(os.getpid).result(), flush=True)
time.sleep(120)
"""


def test_profile_helpers_exit_when_their_worker_is_killed(tmp_path):
    """SIGKILL closes nothing a helper waits on: it watches its parent and exits by itself."""
    env = {**_env(tmp_path), "BATCH_PROFILE_PROCESSES": "1"}
    worker = subprocess.Popen(
        [sys.executable, "-c", HELPER_SCRIPT], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        helper = int(worker.stdout.readline())
        assert helper != worker.pid and _alive(helper)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    deadline = time.monotonic() + 30
    while _alive(helper) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(helper)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"  # a zombie has exited
