"""The scale-out path run for real: Huey on a real Redis, two `run_huey` worker processes.

A large batch is queued twice (as the web view and the periodic resume would); both workers
take its chunks (a lease per chunk; tests/batches/test_batch_scale_out.py goes further). The one that
last renewed the batch's own lease is killed with SIGKILL mid-batch; the other takes its chunk
over and finishes the batch: every row exactly once, both workers did part of the work. A
lease owner names its process (host:pid:token/run), which is how the test knows who worked.
Then the API and batch-flow tests run again, in a child pytest, on the Redis queue and
Redis cache.
"""

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.batches.test_batch_worker import (
    ROOT,
    _env,
    _manage,
    _worker,
    assert_every_row_once,
    molecules,
)
from tests.redis_support import needs_redis, pid_of

pytestmark = [pytest.mark.slow, needs_redis]


def _state(db: Path) -> tuple[int, int, str, str]:
    with sqlite3.connect(db, timeout=20) as connection:
        return connection.execute(
            "SELECT rows_processed, total_rows, status, lease_owner FROM predictions_batch"
        ).fetchone()


def _wait(db, done, seconds, workers, logs):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        state = _state(db)
        if done(state):
            return state
        time.sleep(0.02)
    tails = "\n".join(log.read_text()[-2000:] for log in logs)
    pytest.fail(f"not there in {seconds} s; state {_state(db)}\n{tails}")


def test_two_redis_workers_share_a_batch_and_survive_a_sigkill(tmp_path, redis_url):
    env = {**_env(tmp_path), "REDIS_URL": redis_url}
    db = tmp_path / "db.sqlite3"
    smiles = molecules()
    (tmp_path / "in.csv").write_text(
        "id,smiles\n" + "".join(f"M{i},{s}\n" for i, s in enumerate(smiles, 1))
    )
    _manage(env, "migrate", "-v", "0")
    logs = [tmp_path / "worker-a.log", tmp_path / "worker-b.log"]
    workers = [_worker(env, log) for log in logs]
    try:
        _manage(
            env,
            "shell",
            "-c",
            (
                "from django.core.files.uploadedfile import SimpleUploadedFile as F;"
                "from batches.services import batch_create;"
                "from batches.tasks import run_batch;"
                f"b = batch_create(upload=F('in.csv', open({str(tmp_path / 'in.csv')!r}, 'rb').read()));"
                "run_batch(str(b.pk)); run_batch(str(b.pk))"
            ),
        )
        processed, total, _, owner = _wait(
            db, lambda s: s[0] >= 50 and pid_of(s[3]), 120, workers, logs
        )
        pids = {w.pid: w for w in workers}
        assert pid_of(owner) in pids, owner
        first = pids.pop(pid_of(owner))
        first.send_signal(signal.SIGKILL)
        first.wait()
        killed_at = _state(db)[0]
        assert 0 < killed_at < total, "the batch finished before the kill"
        [survivor] = pids.values()
        final = _wait(db, lambda s: s[2] == "done", 180, workers, logs)
        assert survivor.poll() is None
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.terminate()
                worker.wait(timeout=30)

    assert final[0] == len(smiles)
    assert_every_row_once(db, smiles)
    # Both did work: the killed one held the lease while rows 1..killed_at were stored,
    # the survivor holds it at the end, having stored the rest.
    assert 0 < killed_at < len(smiles)
    assert pid_of(final[3]) == survivor.pid != first.pid


def test_api_and_batch_tests_pass_on_the_redis_queue_and_cache(tmp_path, redis_url):
    """The same tests as on SQLite Huey, in a child pytest whose settings read REDIS_URL."""
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "SMILES_VAR_DIR": str(tmp_path),
        "TOKENIZERS_PARALLELISM": "false",
    }
    files = [
        "tests/api/test_api.py",
        "tests/batches/test_batch_flow.py",
        "tests/site/test_privacy.py",
    ]
    check = (
        "from django.conf import settings as s;"
        "assert s.HUEY['huey_class'] == 'huey.RedisHuey';"
        "assert s.CACHES['default']['BACKEND'].endswith('RedisCache')"
    )
    subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {check}"],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "smiles_site.settings_test"},
        check=True,
        timeout=120,
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *files],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert re.search(r"\d+ passed", result.stdout)
