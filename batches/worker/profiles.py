"""The RDKit profiles a batch left pending, filled in after its predictions.

The profile costs more CPU than the prediction (FilterCatalog alerts, QED), so a batch stores
its new molecules without it and its rows count as done at the model's speed. Helper processes
(settings.BATCH_PROFILE_PROCESSES) profile each stored chunk while the worker predicts the next
(`Ahead`); once every row is stored the worker stores what arrived and computes the rest
(`Ahead.finish`, `fill_batch`; stage "profiling"), and only then is the batch done. Storing is
`predictions.services.profiles_store`/`profiles_fill`: idempotent conditional updates, so a
race or a killed worker is harmless (the resumed batch, or `fill_left_over`, fills the rest).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor

from django.conf import settings

from batches.models import Batch, BatchRow
from chemreport import profile
from predictions.models import Prediction
from predictions.selectors import profiles_for, stored_profiles
from predictions.services import profiles_fill, profiles_store

log = logging.getLogger(__name__)
# Molecules per step of the pass: ~1 s of profiles; the page's count moves after each.
PAGE = 64


_pool: ProcessPoolExecutor | None = None
_pool_lock = threading.Lock()


def helper_pool() -> ProcessPoolExecutor | None:
    """settings.BATCH_PROFILE_PROCESSES helper processes, started on first use and kept
    (spawned: they import RDKit and chemreport.profile only; niced, so the predictions and
    the web come first); None when set to 0."""
    global _pool
    if settings.BATCH_PROFILE_PROCESSES <= 0:
        return None
    with _pool_lock:
        if _pool is None:
            context = multiprocessing.get_context("spawn")
            _pool = ProcessPoolExecutor(
                settings.BATCH_PROFILE_PROCESSES,
                mp_context=context,
                initializer=profile.start_helper,
                initargs=(os.getpid(),),
            )
        return _pool


def _drop_pool(error: BaseException) -> None:
    """A helper died (or the pool cannot start): the next batch starts a new pool, and
    what it left pending is computed by the worker itself."""
    global _pool
    log.warning("RDKit profile helper failed (%s); the worker computes the profiles", error)
    with _pool_lock:
        _pool = None


class Ahead:
    """A batch's new molecules profiled in helper processes while the worker predicts its next
    chunks; stored as they arrive, with the same conditional updates as `profiles_fill`.

    Nothing here is needed for correctness: a profile that never arrives (worker killed, helper
    died) stays pending and the pass (`fill_batch`) computes it in the worker.
    """

    def __init__(self, batch_pk) -> None:
        self.batch_pk = batch_pk
        self.pool = helper_pool()
        self.sent: deque[tuple[dict, Future]] = deque()

    def send(self, first_row: int, last_row: int) -> None:
        """Profile the pending rows first_row..last_row (a stored chunk), PAGE molecules a piece."""
        if self.pool is None:
            return
        rows = BatchRow.objects.filter(
            batch_id=self.batch_pk,
            profile_pending=True,
            row_number__gte=first_row,
            row_number__lte=last_row,
        ).exclude(prediction_id=None)
        pending = dict(rows.values_list("prediction_id", "canonical_smiles"))
        stored = stored_profiles(pending.values())  # another model's prediction lends its own
        profiles_store({pk: stored[smiles] for pk, smiles in pending.items() if smiles in stored})
        todo = [(pk, smiles) for pk, smiles in pending.items() if smiles not in stored]
        for start in range(0, len(todo), PAGE):
            piece = dict(todo[start : start + PAGE])
            try:
                future = self.pool.submit(profile.profiles_for_smiles, list(piece.values()))
            except Exception as error:  # BrokenProcessPool, or the pool was shut down
                _drop_pool(error)
                self.pool = None
                return
            self.sent.append((piece, future))

    def _take(self, piece: dict, future: Future) -> None:
        try:
            values = future.result()
        except Exception as error:  # the piece stays pending: the pass computes it here
            _drop_pool(error)
            return
        profiles_store(dict(zip(piece, values, strict=True)))

    def store_arrived(self) -> None:
        """Store the pieces already computed, in order, without waiting."""
        while self.sent and self.sent[0][1].done():
            self._take(*self.sent.popleft())

    def drop(self) -> None:
        """Forget what is still sent (the batch stopped): pieces not started are cancelled."""
        while self.sent:
            self.sent.pop()[1].cancel()

    def finish(self, carry_on: Callable[[int], bool]) -> bool:
        """Store every piece sent: those that arrived, and, from the last one back, the rest
        computed here (a piece a helper is already on is computed twice; the first stored
        wins, with the same value), so the worker never waits for a helper that the machine
        gives little CPU. `carry_on` as in `fill_batch`."""
        while self.sent:
            self.store_arrived()
            if not self.sent:
                break
            piece, future = self.sent.pop()
            future.cancel()
            profiles_fill(piece)
            if not carry_on(pending_rows(self.batch_pk)):
                return False
        return True


def _fill_rows(rows: list[tuple]) -> None:
    """(row pk, prediction pk, canonical SMILES) of pending rows: fill them and their predictions."""
    profiles_fill({prediction: smiles for _, prediction, smiles in rows if prediction is not None})
    for pk, prediction, smiles in rows:
        if prediction is None:  # its prediction was deleted: the row keeps its own copy
            BatchRow.objects.filter(pk=pk).update(
                profile=profile.profile_for_smiles(smiles), profile_pending=False
            )


def _pending(batch_pk, rows: tuple[int, int] | None = None):
    pending = BatchRow.objects.filter(batch_id=batch_pk, profile_pending=True)
    if rows is not None:  # (first, last) row numbers: one chunk's
        pending = pending.filter(row_number__gte=rows[0], row_number__lte=rows[1])
    return pending


def pending_rows(batch_pk, *, rows: tuple[int, int] | None = None) -> int:
    return _pending(batch_pk, rows).count()


def fill_batch(
    batch_pk,
    *,
    carry_on: Callable[[int], bool] = lambda left: True,
    rows: tuple[int, int] | None = None,
) -> bool:
    """Fill a batch's pending rows (those numbered rows[0]..rows[1], with `rows`) in row order,
    PAGE molecules at a time; True once none is left.

    After each page `carry_on(rows still pending)` is asked whether to go on (the worker
    reports progress there, and stops when the batch was cancelled or its lease taken over).
    """
    pending = _pending(batch_pk, rows).order_by("row_number")
    while True:
        page = list(pending.values_list("pk", "prediction_id", "canonical_smiles")[:PAGE])
        if not page:
            return True
        _fill_rows(page)
        if not carry_on(pending_rows(batch_pk, rows=rows)):
            return False


def complete_rows(rows: list[BatchRow]) -> list[BatchRow]:
    """Batch rows as an export needs them: a row still waiting for its profile gets it in
    memory (one stored by any prediction reused, else computed). A download only reads: the
    batch's profile pass, or the periodic fill, stores it."""
    waiting = [row for row in rows if row.profile_pending]
    if waiting:
        found = profiles_for(row.canonical_smiles for row in waiting)
        for row in waiting:
            row.profile = found[row.canonical_smiles]
            row.profile_pending = False
    return rows


def fill_left_over(*, seconds: float = 50.0) -> int:
    """Fill what batches that will not run again left pending (cancelled or failed during the
    profile pass, or a worker killed between a prediction's update and its rows'); for the
    periodic task. Returns the rows and predictions filled.

    It waits while any batch is active: a running batch fills its own rows, and a waiting one
    will; with one worker (the default) nothing else runs meanwhile anyway.
    """
    if Batch.objects.active().exists():
        return 0
    deadline, filled = time.monotonic() + seconds, 0
    rows = BatchRow.objects.filter(profile_pending=True).order_by("pk")
    predictions = Prediction.objects.filter(profile_pending=True).order_by("pk")
    while time.monotonic() < deadline:
        page = list(rows.values_list("pk", "prediction_id", "canonical_smiles")[:PAGE])
        if page:
            _fill_rows(page)
        else:  # predictions whose rows were never stored (a worker killed in between)
            page = list(predictions.values_list("pk", "canonical_smiles")[:PAGE])
            if not page:
                break
            profiles_fill(dict(page))
        filled += len(page)
    return filled
