"""Issue #24 item 2: batches that scale out, run for real.

Two `manage.py run_huey` worker processes on a real Redis queue and one file SQLite database
work ONE batch together: its chunks (BatchChunk, 10 rows each here) are leased one by one, and
the run that starts the batch queues a helper (settings.BATCH_PARALLEL_TASKS) that the other
worker takes. Each stored chunk names the run that stored it (`done_by`, host:pid:token/run),
which is how the tests know who did what. Read with plain sqlite3, as tests/batches/test_batch_worker.py.
"""

import csv
import io
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from tests.batches.test_batch_worker import _env, _manage, _worker, assert_every_row_once, molecules
from tests.redis_support import needs_redis, pid_of

pytestmark = [pytest.mark.slow, needs_redis]


def _read(db: Path) -> dict:
    """The batch and its chunks, read in one transaction (one snapshot of the database)."""
    with sqlite3.connect(db, timeout=20) as connection:
        connection.execute("BEGIN")
        batch = connection.execute(
            "SELECT rows_processed, progress_rows, total_rows, status, done_count"
            " FROM predictions_batch"
        ).fetchone()
        chunks = connection.execute(
            "SELECT status, kind, first_row, last_row, lease_owner, done_by"
            " FROM predictions_batchchunk ORDER BY `index`"
        ).fetchall()
    processed, progress, total, status, done = batch
    done_rows: dict[int, int] = {}  # pid -> rows of the row chunks it stored
    for state, kind, first, last, _, by in chunks:
        if state == "done" and kind == "rows" and pid_of(by):
            done_rows[pid_of(by)] = done_rows.get(pid_of(by), 0) + last - first + 1
    running = {pid_of(c[4]) for c in chunks if c[0] == "running" and c[1] == "rows"}
    return {
        "processed": processed,
        "progress": progress,
        "total": total,
        "status": status,
        "done": done,
        "chunks": chunks,
        "done_rows": done_rows,
        "running": running - {None},
    }


def _wait(db: Path, done, seconds: float, logs: list[Path]) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        state = _read(db)
        if done(state):
            return state
        time.sleep(0.02)
    tails = "\n".join(log.read_text()[-2000:] for log in logs)
    pytest.fail(f"not there in {seconds} s; state {_read(db)}\n{tails}")


def _start(env: dict, tmp_path: Path) -> tuple[list, list[Path], list[str]]:
    """Migrate, start two workers, store a batch of `molecules()` and queue it once (as the
    upload view does). Returns the workers, their logs and the molecules."""
    smiles = molecules()
    (tmp_path / "in.csv").write_text(
        "id,smiles\n" + "".join(f"M{i},{s}\n" for i, s in enumerate(smiles, 1))
    )
    _manage(env, "migrate", "-v", "0")
    logs = [tmp_path / "worker-a.log", tmp_path / "worker-b.log"]
    workers = [_worker(env, log) for log in logs]
    _manage(
        env,
        "shell",
        "-c",
        (
            "from django.core.files.uploadedfile import SimpleUploadedFile as F;"
            "from batches.services import batch_create;"
            "from batches.tasks import run_batch;"
            f"b = batch_create(upload=F('in.csv', open({str(tmp_path / 'in.csv')!r}, 'rb').read()));"
            "run_batch(str(b.pk))"
        ),
    )
    return workers, logs, smiles


def _stop(workers) -> None:
    for worker in workers:
        if worker.poll() is None:
            worker.terminate()
            worker.wait(timeout=30)


def _both_working(workers):
    """Both workers have stored chunks, and the batch's count has caught up with them (it is
    written just after a chunk is marked done)."""
    pids = {w.pid for w in workers}
    return lambda s: (
        pids <= set(s["done_rows"])
        and s["status"] == "running"
        and s["processed"] == sum(s["done_rows"].values())
    )


def _exported_ids(env: dict) -> list[str]:
    """The batch's results.csv as the download streams it: its ID column, in file order."""
    script = (
        "import sys;"
        "from batches.files.exports import stream_csv;"
        "from batches.models import Batch;"
        "sys.stdout.write(''.join(stream_csv(Batch.objects.get())))"
    )
    out = _manage(env, "shell", "--no-imports", "-c", script).stdout
    body = out[out.index("row,") :]
    records = list(csv.DictReader(io.StringIO(body)))
    assert all(record["status"] == "ok" for record in records)
    return [record["id"] for record in records]


@pytest.mark.parametrize("killed", ["first-chunk", "other"])
def test_two_workers_on_one_batch_every_row_once_after_a_sigkill(tmp_path, redis_url, killed):
    """Both workers store chunks of the one batch; then one (the worker that stored its first
    chunk, or the other) is killed with SIGKILL mid-batch; the survivor takes the killed one's
    chunk over (its process is gone) and finishes: every row once, in order, in the export."""
    env = {**_env(tmp_path), "REDIS_URL": redis_url}
    db = tmp_path / "db.sqlite3"
    workers, logs, smiles = _start(env, tmp_path)
    try:
        state = _wait(db, _both_working(workers), 180, logs)
        # Progress counts every worker's rows: more than either stored alone.
        assert state["processed"] > max(state["done_rows"].values())
        assert state["progress"] >= state["processed"]
        first = pid_of(state["chunks"][0][5])
        victim = next(w for w in workers if (w.pid == first) == (killed == "first-chunk"))
        [survivor] = [w for w in workers if w is not victim]
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        killed_at = _read(db)
        assert killed_at["processed"] < len(smiles), "the batch finished before the kill"
        final = _wait(db, lambda s: s["status"] == "done", 240, logs)
        assert survivor.poll() is None
    finally:
        _stop(workers)

    assert_every_row_once(db, smiles)
    assert final["done"] == final["processed"] == len(smiles)
    assert set(final["done_rows"]) == {victim.pid, survivor.pid}  # both stored chunks
    assert sum(final["done_rows"].values()) == len(smiles)  # each chunk stored once
    assert _exported_ids(env) == [f"M{i}" for i in range(1, len(smiles) + 1)]


def test_cancel_stops_both_workers(tmp_path, redis_url):
    env = {**_env(tmp_path), "REDIS_URL": redis_url}
    db = tmp_path / "db.sqlite3"
    workers, logs, smiles = _start(env, tmp_path)
    try:
        _wait(db, _both_working(workers), 180, logs)
        _manage(
            env,
            "shell",
            "-c",
            (
                "from batches.services import batch_cancel;"
                "from batches.models import Batch;"
                "assert batch_cancel(batch=Batch.objects.get())"
            ),
        )
        cancelled = _read(db)
        # Each worker finishes the chunk it was on (at most one each), then takes no other.
        time.sleep(8)
        settled = _read(db)
        time.sleep(4)
        later = _read(db)
        assert all(w.poll() is None for w in workers)  # both alive, idle
    finally:
        _stop(workers)
    assert later["status"] == "cancelled"
    assert later["chunks"] == settled["chunks"] and later["processed"] == settled["processed"]
    finished = sum(1 for c in settled["chunks"] if c[0] == "done")
    before = sum(1 for c in cancelled["chunks"] if c[0] == "done")
    assert finished <= before + 2
    assert settled["processed"] < len(smiles)
    held = [c for c in settled["chunks"] if c[0] == "running" and c[1] == "rows"]
    assert all(c[4].startswith("queued:") for c in held)  # only one reserved by a hand-off
    with sqlite3.connect(db) as connection:
        stored = connection.execute("SELECT COUNT(*) FROM predictions_batchrow").fetchone()[0]
    assert stored == settled["processed"]  # every stored row counted, none half-stored
