"""Issue 21 item 6: one big batch must not starve everyone else's.

A batch runs in slices (batches/tasks.py `run_batch`): after BATCH_SLICE_SECONDS, if
other tasks wait in the queue, it stops between two stored chunks, hands its lease to a token
and is queued again behind them. Here through the real SQLite Huey queue, drained task by
task as the consumer does (conftest `queue`), and with a real `run_huey` worker.
"""

import sqlite3
import time
from pathlib import Path

import pytest
from huey.contrib.djhuey import HUEY

from batches import services as batch_services
from batches.models import Batch, BatchChunk, BatchRow
from batches.tasks import run_batch
from tests.batches.test_batch_worker import _env, _manage, _worker, molecules

BIG = [f"C{'C' * (n % 7)}O{'C' * (n // 7)}" for n in range(24)]  # 24 distinct molecules


def _drain_in_order(done_order: list) -> None:
    """Run every queued task in queue order; note each batch as it becomes finished."""
    while (task := HUEY.dequeue()) is not None:
        HUEY.execute(task)
        for pk in Batch.objects.filter(status=Batch.Status.DONE).values_list("pk", flat=True):
            if pk not in done_order:
                done_order.append(pk)


@pytest.mark.django_db
def test_a_small_batch_of_another_owner_finishes_before_a_big_one(queue, predictor, settings):
    settings.BATCH_CHUNK_ROWS = 4
    settings.BATCH_SLICE_SECONDS = 0  # step aside after every chunk when others wait
    big = batch_services.batch_create(text="\n".join(BIG) + "\n", owner_key="session:a")
    small = batch_services.batch_create(text="CCN\nCCCN\n", owner_key="session:b")
    run_batch(str(big.pk))  # the big one is queued first
    run_batch(str(small.pk))

    seen = {}
    original = batch_services.process_chunk

    def note(**kwargs):  # how far the big batch was when each chunk of the small one ran
        if kwargs["batch"].pk == small.pk:
            seen["big_rows"] = Batch.objects.get(pk=big.pk).rows_processed
        return original(**kwargs)

    batch_services.process_chunk = note
    try:
        order: list = []
        _drain_in_order(order)
    finally:
        batch_services.process_chunk = original
    big.refresh_from_db()
    small.refresh_from_db()
    assert order == [small.pk, big.pk]  # the small one did not wait for all 24 rows
    assert seen["big_rows"] == 4  # one slice (one chunk) of the big batch ran before it
    assert small.finished_at < big.finished_at
    # Exactly once, in order, for both; the hand-off left nothing behind.
    assert (big.status, big.rows_processed, big.done_count) == ("done", 24, 24)
    numbers = list(BatchRow.objects.filter(batch=big).values_list("row_number", flat=True))
    assert numbers == list(range(1, 25))
    assert (small.status, small.done_count) == ("done", 2)
    assert HUEY.pending_count() == 0


@pytest.mark.django_db
def test_a_batch_alone_in_the_queue_never_steps_aside(queue, predictor, settings):
    settings.BATCH_CHUNK_ROWS = 4
    settings.BATCH_SLICE_SECONDS = 0
    big = batch_services.batch_create(text="\n".join(BIG) + "\n", owner_key="session:a")
    run_batch(str(big.pk))
    # The batch's run, then the helper it queued (BATCH_PARALLEL_TASKS), which found it done:
    # a batch's own helper waiting in the queue is no reason to step aside.
    assert queue() == 2
    big.refresh_from_db()
    assert (big.status, big.rows_processed) == ("done", 24)
    holders = BatchChunk.objects.filter(batch=big).values_list("done_by", flat=True)
    assert len(set(holders)) == 1 and not any(h.startswith("queued:") for h in holders)


@pytest.mark.django_db
def test_a_paused_batch_is_claimed_back_only_with_its_token_until_the_lease_ends(
    predictor, settings
):
    settings.BATCH_CHUNK_ROWS = 4
    batch = batch_services.batch_create(text="\n".join(BIG[:8]) + "\n")
    status = batch_services.batch_run(batch_pk=batch.pk, pause=lambda: "queued:tok")
    assert status == batch_services.PAUSED
    batch.refresh_from_db()
    assert (batch.status, batch.rows_processed, batch.lease_owner) == ("running", 4, "queued:tok")
    # Another run (a duplicate queued by the periodic resume) finds it held and leaves it.
    assert batch_services.batch_run(batch_pk=batch.pk) == Batch.Status.RUNNING
    assert Batch.objects.get(pk=batch.pk).rows_processed == 4
    # The run queued under the token takes it back and finishes it.
    assert batch_services.batch_run(batch_pk=batch.pk, handoff="queued:tok") == "done"
    assert list(BatchRow.objects.filter(batch=batch).values_list("row_number", flat=True)) == [
        *range(1, 9)
    ]


def test_cancel_reaches_a_paused_batch(db, predictor, settings):
    settings.BATCH_CHUNK_ROWS = 4
    batch = batch_services.batch_create(text="\n".join(BIG[:8]) + "\n")
    assert batch_services.batch_run(batch_pk=batch.pk, pause=lambda: "queued:x") == "paused"
    assert batch_services.batch_cancel(batch=batch)
    assert batch_services.batch_run(batch_pk=batch.pk, handoff="queued:x") == "cancelled"
    assert BatchRow.objects.filter(batch=batch).count() == 4


def _batches(db: Path) -> dict:
    with sqlite3.connect(db, timeout=20) as connection:
        rows = connection.execute(
            "SELECT owner_key, status, rows_processed, total_rows FROM predictions_batch"
        ).fetchall()
    return {owner: (status, done, total) for owner, status, done, total in rows}


def _queue_small_batches(env: dict, tmp_path: Path, count: int) -> None:
    """`count` 3-row batches of other visitors, queued as the upload view does."""
    script = (
        "from batches.services import batch_create;"
        "from batches.tasks import run_batch;"
        f"[run_batch(str(batch_create(text='CCN\\nCCCN\\nCCCCN\\n', owner_key=f'session:b{{i}}').pk))"
        f" for i in range({count})]"
    )
    _manage(env, "shell", "-c", script)


@pytest.mark.slow
def test_with_a_real_worker_small_batches_wait_one_slice_not_the_whole_big_batch(tmp_path):
    """A run_huey worker busy with a 900-row batch (chunks of 10 rows); three 3-row batches
    of other visitors are queued behind it: each finishes while the big one still runs.
    (With the slice set out of reach, as before the fix, they waited for all 900 rows.)"""
    env, db, log = _env(tmp_path), tmp_path / "db.sqlite3", tmp_path / "worker.log"
    env["BATCH_SLICE_SECONDS"] = "0.5"
    smiles = molecules()
    (tmp_path / "in.csv").write_text(
        "id,smiles\n" + "".join(f"M{i},{s}\n" for i, s in enumerate(smiles, 1))
    )
    _manage(env, "migrate", "-v", "0")
    script = (
        "from django.core.files.uploadedfile import SimpleUploadedFile as F;"
        "from batches.services import batch_create;"
        "from batches.tasks import run_batch;"
        f"b = batch_create(upload=F('in.csv', open({str(tmp_path / 'in.csv')!r}, 'rb').read()),"
        " owner_key='session:a'); run_batch(str(b.pk))"
    )
    _manage(env, "shell", "-c", script)
    worker = _worker(env, log)
    try:
        deadline = time.monotonic() + 120
        while _batches(db)["session:a"][1] < 20:  # the big batch is under way
            assert worker.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.05)
        _queue_small_batches(env, tmp_path, 3)
        while True:
            state = _batches(db)
            small = [v for k, v in state.items() if k.startswith("session:b")]
            if len(small) == 3 and all(s[0] == "done" for s in small):
                break
            assert worker.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.05)
        big = _batches(db)["session:a"]
        assert big[0] == "running" and big[1] < big[2], big  # still under way
        with sqlite3.connect(db) as connection:
            waits = connection.execute(
                "SELECT (julianday(finished_at) - julianday(created_at)) * 86400"
                " FROM predictions_batch WHERE owner_key LIKE 'session:b%'"
            ).fetchall()
        print(
            f"small batches: upload to done {', '.join(f'{w:.1f}' for (w,) in waits)} s; "
            f"big batch at {big[1]}/{big[2]} rows"
        )
        while _batches(db)["session:a"][0] != "done":
            assert worker.poll() is None and time.monotonic() < deadline + 120, log.read_text()[
                -3000:
            ]
            time.sleep(0.1)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    with sqlite3.connect(db) as connection:
        numbers = [
            n
            for (n,) in connection.execute(
                "SELECT row_number FROM predictions_batchrow r JOIN predictions_batch b"
                " ON r.batch_id = b.id WHERE b.owner_key = 'session:a' ORDER BY row_number"
            )
        ]
    assert numbers == list(range(1, len(smiles) + 1))  # every row of the big one, once


@pytest.mark.django_db
def test_a_zip_build_takes_turns_with_another_owners_batch(queue, predictor, settings, monkeypatch):
    """The ZIP's pictures are drawn in slices too: a batch queued behind a large ZIP build
    runs after one slice of drawing, not after the whole archive."""
    import zipfile

    from batches.files import archive
    from batches.tasks import build_batch_zip

    settings.BATCH_SLICE_SECONDS = 0
    monkeypatch.setattr(batch_services, "DRAW_PIECE_ROWS", 2)
    done = batch_services.batch_create(text="\n".join(BIG[:6]) + "\n", owner_key="session:a")
    run_batch(str(done.pk))
    queue()
    done.refresh_from_db()
    assert archive.zip_request(batch=done)
    build_batch_zip(str(done.pk))
    small = batch_services.batch_create(text="CCN\nCCCN\n", owner_key="session:b")
    run_batch(str(small.pk))

    drawn_before_small = []
    original = batch_services.process_chunk

    def note(**kwargs):
        drawn_before_small.append(
            BatchRow.objects.filter(batch=done, prediction__molecule_png__isnull=False).count()
        )
        return original(**kwargs)

    monkeypatch.setattr(batch_services, "process_chunk", note)
    ran = queue()
    small.refresh_from_db()
    assert small.status == "done"
    assert drawn_before_small == [2]  # one slice (a piece of 2 rows) of drawing, then the batch
    assert ran == 3  # a ZIP slice, the batch, then the rest of the ZIP (nobody waits)
    path = archive.zip_file(batch=done)
    assert path is not None
    with zipfile.ZipFile(path) as bundle:
        assert len([n for n in bundle.namelist() if n.startswith("molecules/")]) == 6


def test_the_profile_pass_takes_turns_too(db, predictor, settings, monkeypatch):
    """A big batch's RDKit profile pass (after its rows) steps aside between pages too."""
    from batches.worker import profiles

    settings.BATCH_CHUNK_ROWS = 100  # one chunk: only the profile pass can pause
    settings.BATCH_PROFILE_PROCESSES = 0
    monkeypatch.setattr(profiles, "PAGE", 3)
    batch = batch_services.batch_create(text="\n".join(BIG[:9]) + "\n")
    status = batch_services.batch_run(batch_pk=batch.pk, pause=lambda: "queued:p")
    assert status == batch_services.PAUSED
    batch.refresh_from_db()
    assert (batch.status, batch.stage, batch.lease_owner) == ("running", "profiling", "queued:p")
    assert batch.rows_processed == 9 and 0 < profiles.pending_rows(batch.pk) < 9
    assert batch_services.batch_run(batch_pk=batch.pk, handoff="queued:p") == "done"
    assert profiles.pending_rows(batch.pk) == 0


@pytest.mark.django_db
def test_a_zip_whose_drawing_fails_says_so(queue, predictor, monkeypatch):
    from batches.files import archive
    from batches.tasks import build_batch_zip

    done = batch_services.batch_create(text="CCO\nCCN\n", owner_key="session:a")
    run_batch(str(done.pk))
    queue()
    done.refresh_from_db()
    assert archive.zip_request(batch=done)

    def broken(**kwargs):
        raise RuntimeError("no pictures today")

    monkeypatch.setattr(batch_services, "batch_draw_pictures", broken)
    with pytest.raises(RuntimeError):
        build_batch_zip.call_local(str(done.pk))
    state = archive.zip_state(batch=done)
    assert state.status == "failed" and "no pictures today" in state.error
