"""A batch's RDKit profiles, filled after its predictions (batches/worker/profiles.py).

Real queue, worker code, SQLite, checkpoint and RDKit throughout. Helper processes
are off except in the test that is about them. An interrupted profile pass is made by raising a BaseException from inside it (what a killed worker leaves: no error
recorded, the batch still running, the lease ours); the separate-process kill is in
test_batch_worker.py.
"""

import concurrent.futures
import csv
import io
import multiprocessing
from concurrent.futures import wait
from datetime import timedelta

import numpy as np
import pytest
from django.urls import reverse
from django.utils import timezone

from batches import services as batch_services
from batches.models import Batch, BatchChunk, BatchRow
from batches.worker import profiles
from chemreport import profile
from molfiles import tables
from predictions.models import Prediction

pytestmark = pytest.mark.django_db

SMILES = ["CCO", "c1ccccc1O", "C1CC", "OCC", "CC(=O)Oc1ccccc1C(=O)O", "O=C1C(=Cc2ccccc2)SC(=S)N1"]
PREDICTED = 5  # C1CC is refused; OCC is CCO again


@pytest.fixture(autouse=True)
def _in_the_worker(settings):
    """The pass in the worker itself (no helper processes), except where a test asks."""
    settings.BATCH_PROFILE_PROCESSES = 0


class Killed(BaseException):
    """Stands for SIGKILL: not an Exception, so the worker records nothing."""


def _create(smiles=SMILES) -> Batch:
    text = "id,smiles\n" + "".join(f"M{i},{s}\n" for i, s in enumerate(smiles, 1))
    return batch_services.batch_create(text=text)


def session_batch_owner(client, batch) -> None:
    """Make the test client's session the batch's owner, as its upload would have."""
    from batches import owners

    session = client.session
    session[owners.SESSION_TOKEN] = "profiles-test"
    session.save()
    Batch.objects.filter(pk=batch.pk).update(owner_key=owners.session_owner_key("profiles-test"))


def _killed_after(pages: int, monkeypatch) -> None:
    """The profile pass dies after `pages` pages of one molecule."""
    monkeypatch.setattr(profiles, "PAGE", 1)
    real, seen = profiles._fill_rows, []

    def fill_rows(rows):
        if len(seen) >= pages:
            raise Killed
        seen.append(rows)
        real(rows)

    monkeypatch.setattr(profiles, "_fill_rows", fill_rows)


def _assert_complete(batch: Batch) -> None:
    """Every predicted row and its prediction carry the exact profile of its canonical SMILES."""
    rows = BatchRow.objects.filter(batch=batch, status=BatchRow.Status.OK)
    assert rows.count() == PREDICTED
    for row in rows:
        expected = profile.profile_for_smiles(row.canonical_smiles)
        assert expected["mw"] > 0
        assert (row.profile, row.profile_pending) == (expected, False)
        stored = Prediction.objects.get(pk=row.prediction_id)
        assert (stored.profile, stored.profile_pending) == (expected, False)


def test_rows_count_as_done_first_then_the_worker_fills_every_profile(
    client, queue, predictor, monkeypatch
):
    batch = _create()
    session_batch_owner(client, batch)
    seen = []
    real = profiles.profiles_fill

    def watch(pending):  # the page and the rows as the pass starts each step
        state = Batch.objects.get(pk=batch.pk)
        page = client.get(reverse("batches:progress", args=[batch.public_id]))
        still = BatchRow.objects.filter(batch=batch, profile_pending=True).count()
        seen.append((state.status, state.stage, state.rows_processed, still, page.content.decode()))
        return real(pending)

    monkeypatch.setattr(profiles, "PAGE", 2)
    monkeypatch.setattr(profiles, "profiles_fill", watch)
    from batches.tasks import run_batch

    run_batch(str(batch.pk))
    assert queue() == 1

    status, stage, processed, pending, page = seen[0]
    assert (status, stage, processed, pending) == ("running", "profiling", 6, 5)
    assert "computing RDKit profiles: 0 of 5" in page  # 5 predicted rows, 4 distinct molecules
    assert "rows/s" not in page and "s left" not in page  # no rate for the rows' phase now
    assert "computing RDKit profiles: 3 of 5" in seen[1][4]  # CCO twice: rows 1 and 4
    batch.refresh_from_db()
    assert (batch.status, batch.stage, batch.profiled_rows) == ("done", "", 5)
    _assert_complete(batch)
    rhodanine = BatchRow.objects.get(batch=batch, row_number=6)
    assert any(alert["set"] == "PAINS_A" for alert in rhodanine.profile["alerts"])


def test_resume_after_an_interrupted_profile_pass_fills_the_rest(predictor, monkeypatch):
    batch = _create()
    _killed_after(2, monkeypatch)
    with pytest.raises(Killed):
        batch_services.batch_run(batch_pk=batch.pk)
    batch.refresh_from_db()
    assert (batch.status, batch.stage, batch.rows_processed) == ("running", "profiling", 6)
    assert BatchRow.objects.filter(batch=batch, profile_pending=True).count() == 2
    assert Prediction.objects.filter(profile_pending=True).count() == 2

    monkeypatch.undo()
    # The dead worker's leases (the batch's and its chunk's) run out; another run takes over.
    ended = timezone.now() - timedelta(seconds=1)
    Batch.objects.filter(pk=batch.pk).update(lease_until=ended)
    BatchChunk.objects.filter(batch=batch).exclude(status="done").update(lease_until=ended)
    assert batch_services.batch_run(batch_pk=batch.pk) == "done"
    batch.refresh_from_db()
    assert (batch.done_count, batch.predicted_count, batch.profiled_rows) == (5, 4, 5)
    _assert_complete(batch)


def _csv_rows(client, batch) -> list[dict]:
    url = reverse("batches:download", args=[batch.public_id, "results.csv"])
    body = b"".join(client.get(url).streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(body)))


def test_exports_and_pages_never_show_a_prediction_without_its_profile(
    client, predictor, monkeypatch
):
    """Before the pass gets to them: the CSV and the SDF complete them in memory, a
    prediction's page and the API show them computed; a second batch copying the pending
    predictions gets them too."""
    first = _create()
    _killed_after(0, monkeypatch)
    with pytest.raises(Killed):
        batch_services.batch_run(batch_pk=first.pk)
    monkeypatch.undo()
    assert BatchRow.objects.filter(batch=first, profile_pending=True).count() == PREDICTED
    second = _create(SMILES[:2])  # copies two pending predictions when it runs

    # A prediction opened first: its page and the API show the profile, computed for the
    # read and not stored (reads never write: the batch's pass stores it).
    phenol = Prediction.objects.get(canonical_smiles="Oc1ccccc1")
    page = client.get(reverse("predictions:detail", args=[phenol.public_id])).content.decode()
    assert "No RDKit profile is stored" not in page and "computed (RDKit), exact" in page
    api = client.get(f"/api/v1/predictions/{phenol.public_id}").json()
    assert api["profile"] == profile.profile_for_smiles("Oc1ccccc1")
    phenol.refresh_from_db()
    assert phenol.profile_pending

    # The second batch's own pass fills its rows and the predictions they copied.
    assert batch_services.batch_run(batch_pk=second.pk) == "done"
    assert not BatchRow.objects.filter(batch=second, profile_pending=True).exists()
    # ... and, by prediction, the first batch's rows of the same molecules.
    assert BatchRow.objects.filter(batch=first, profile_pending=True).count() == PREDICTED - 3

    # The first batch's export, mid-pass: every predicted row with its profile.
    batch = Batch.objects.get(pk=first.pk)
    session_batch_owner(client, batch)
    records = _csv_rows(client, batch)
    header = tables.profile_header()
    for record in records:
        if record["status"] == "ok":
            expected = tables.profile_cells(profile.profile_for_smiles(record["canonical_smiles"]))
            assert [record[name] for name in header] == [str(cell) for cell in expected]
        else:
            assert all(record[name] == "" for name in header)
    # A download reads: the rows it completed in memory are still left to the batch's pass.
    assert BatchRow.objects.filter(batch=first, profile_pending=True).count() == PREDICTED - 3


def test_a_batch_cancelled_during_its_profile_pass_gets_them_when_the_queue_is_idle(
    predictor, monkeypatch
):
    batch = _create()
    _killed_after(1, monkeypatch)
    with pytest.raises(Killed):
        batch_services.batch_run(batch_pk=batch.pk)
    monkeypatch.undo()
    other = _create(["CCN"])  # waiting: the periodic fill leaves the queue's work alone
    assert profiles.fill_left_over() == 0
    assert batch_services.batch_cancel(batch=Batch.objects.get(pk=batch.pk))
    assert batch_services.batch_run(batch_pk=batch.pk) == "cancelled"  # it will not run again
    assert BatchRow.objects.filter(batch=batch, profile_pending=True).exists()
    assert batch_services.batch_run(batch_pk=other.pk) == "done"

    from batches.tasks import fill_left_over_profiles

    fill_left_over_profiles.call_local()
    _assert_complete(batch)
    assert not Prediction.objects.filter(profile_pending=True).exists()


def test_a_new_model_reuses_stored_profiles(predictor, monkeypatch):
    """The profile is the molecule's, not the model's: another checkpoint's stored prediction
    of the same molecule lends it, and nothing is computed."""
    batch = _create(SMILES[:2])
    assert batch_services.batch_run(batch_pk=batch.pk) == "done"
    Prediction.objects.update(model_hash="an-older-checkpoint")
    computed = []
    real = profile.profile_for_smiles
    monkeypatch.setattr(profile, "profile_for_smiles", lambda s: computed.append(s) or real(s))
    again = _create(SMILES[:2])
    assert batch_services.batch_run(batch_pk=again.pk) == "done"
    assert Prediction.objects.count() == 4 and computed == []
    for row in BatchRow.objects.filter(batch=again):
        assert row.profile == real(row.canonical_smiles) and not row.profile_pending


def _counting_here(monkeypatch) -> list:
    """Profiles computed in this process from now on (a helper has its own RDKit)."""
    here = []
    real = profile.profile_for_smiles
    monkeypatch.setattr(profile, "profile_for_smiles", lambda s: here.append(s) or real(s))
    return here


def test_helper_processes_profile_stored_chunks_while_the_worker_predicts(
    settings, predictor, monkeypatch
):
    settings.BATCH_PROFILE_PROCESSES = 1
    settings.BATCH_CHUNK_ROWS = 2  # three chunks, each sent to the helper once stored
    finish = profiles.Ahead.finish

    def after_the_helpers(self, carry_on):  # let every piece arrive before the pass
        wait([future for _, future in self.sent])
        return finish(self, carry_on)

    monkeypatch.setattr(profiles.Ahead, "finish", after_the_helpers)
    here = _counting_here(monkeypatch)
    batch = _create()
    assert batch_services.batch_run(batch_pk=batch.pk) == "done"
    assert here == []  # every profile came from the helper process
    monkeypatch.undo()
    _assert_complete(batch)
    assert Batch.objects.get(pk=batch.pk).profiled_rows == 5


def test_a_helper_computes_the_descriptors_and_the_values_stay_the_models_own(
    settings, predictor, monkeypatch
):
    """With a helper, the descriptor model's input comes from the helper process (computed
    while the network members run) and every row's values are what the model gives
    the molecule on its own (to the float32 rounding of batched members); the profiles arrive
    with the predictions."""
    settings.BATCH_PROFILE_PROCESSES = 1
    settings.BATCH_CHUNK_ROWS = 2  # three chunks, each with its own descriptor piece
    monkeypatch.setattr(profiles, "DESCRIPTOR_WAIT", 60.0)  # a helper starting up is waited for
    delivered = []  # (SMILES, the helper's rows)
    real = profiles.Early.descriptors

    def counted(self):
        rows = real(self)
        delivered.extend(
            (smiles, f.result())
            for smiles, f in self.rows
            if f is not None and f.done() and not f.cancelled()
        )
        return rows

    monkeypatch.setattr(profiles.Early, "descriptors", counted)
    batch = _create()
    assert batch_services.batch_run(batch_pk=batch.pk) == "done"
    monkeypatch.undo()
    assert delivered  # from the helper, the worker's own numbers to the bit
    for smiles, rows in delivered:
        assert np.array_equal(rows, predictor.descriptor_rows(smiles))
    rows = BatchRow.objects.filter(batch=batch, status=BatchRow.Status.OK)
    for row in rows:
        alone = predictor.predict(row.canonical_smiles)
        # float32 members batched with other molecules: the same to float32 rounding
        assert [o["value"] for o in row.outputs] == pytest.approx(
            [o.value for o in alone.outputs], rel=1e-6, abs=1e-6
        )
    _assert_complete(batch)


def test_the_worker_never_waits_for_a_busy_helper(settings, predictor, monkeypatch):
    """The helper is kept busy by another job: the worker computes every piece itself and
    the batch is done while the helper is still busy."""
    settings.BATCH_PROFILE_PROCESSES = 1
    context = multiprocessing.get_context("spawn")
    pool = concurrent.futures.ProcessPoolExecutor(1, mp_context=context)
    manager = context.Manager()
    gate = manager.Event()
    try:
        busy = pool.submit(gate.wait)
        monkeypatch.setattr(profiles, "_pool", pool)
        here = _counting_here(monkeypatch)
        batch = _create()
        assert batch_services.batch_run(batch_pk=batch.pk) == "done"
        assert not busy.done()
        predicted = BatchRow.objects.filter(batch=batch, status=BatchRow.Status.OK)
        assert set(here) == set(predicted.values_list("canonical_smiles", flat=True))
        monkeypatch.undo()
        _assert_complete(batch)
    finally:
        gate.set()
        pool.shutdown(cancel_futures=True)
        manager.shutdown()


def test_a_chunks_profiles_are_filled_while_other_workers_still_predict(predictor, settings):
    """Per-chunk leases: the profile pass of a stored chunk's rows may start while another
    worker still predicts other rows; the batch counts its profiles only once every row is
    stored, and is done when every chunk is."""
    settings.BATCH_CHUNK_ROWS = 2
    settings.BATCH_PROFILE_PROCESSES = 0
    batch = batch_services.batch_create(text="CCO\nCCN\nCCCl\nCCCBr\n")
    one, two = "elsewhere:1:aaaa/1", "elsewhere:2:bbbb/2"  # two live workers on another host
    assert batch_services._start(batch.pk, one, "", None)
    first = batch_services._claim_chunk(batch.pk, one)
    second = batch_services._claim_chunk(batch.pk, two)
    assert (first.first_row, second.first_row) == (1, 3)
    batch_services._store_rows(Batch.objects.get(pk=batch.pk), first, one, predictor)
    rows_1_2 = batch_services._claim_chunk(batch.pk, one)
    assert (rows_1_2.kind, rows_1_2.first_row, rows_1_2.last_row) == ("profiles", 1, 2)
    third = "elsewhere:3:cccc/3"
    assert batch_services._claim_chunk(batch.pk, third) is None  # 3-4's wait for their rows
    assert batch_services._fill_profiles(rows_1_2, one, profiles.Ahead(batch.pk)) is True
    BatchChunk.objects.filter(pk=rows_1_2.pk).update(status="done")  # as the run does next
    assert profiles.pending_rows(batch.pk) == 0  # rows 3-4 are not stored yet
    batch.refresh_from_db()
    assert (batch.stage, batch.profiled_rows, batch.rows_processed) == ("", 0, 2)

    batch_services._store_rows(Batch.objects.get(pk=batch.pk), second, two, predictor)
    assert profiles.pending_rows(batch.pk) == 2
    # Another run joins (the batch's lease is held) and does what is left.
    assert batch_services.batch_run(batch_pk=batch.pk) == "done"
    batch.refresh_from_db()
    assert (batch.profiled_rows, batch.rows_processed, batch.done_count) == (4, 4, 4)
    for row in BatchRow.objects.filter(batch=batch):
        expected = profile.profile_for_smiles(row.canonical_smiles)
        assert (row.profile, row.profile_pending) == (expected, False)
