"""RDKit work a batch hands to helper processes, beside the worker's predictions.

Helper processes (settings.BATCH_PROFILE_PROCESSES) take a chunk's new molecules as soon as they
are parsed (`Early`): first their descriptors, which the model reads after its network members
(`Model.run(features=...)`), then their RDKit profiles, stored with the predictions when they
arrive in time. The worker never waits long for a helper: a descriptor piece not delivered is
computed by the worker, and a profile that comes late stays pending and is stored as it arrives
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
from concurrent.futures import TimeoutError as FutureTimeout

from django.conf import settings

from batches.models import Batch, BatchRow
from chemreport import profile
from predictions.models import Prediction
from predictions.selectors import profiles_for, stored_profiles
from predictions.services import profiles_fill, profiles_store

log = logging.getLogger(__name__)
# Molecules per step of the pass: ~1 s of profiles; the page's count moves after each.
PAGE = 64
# How long, in all, a chunk's worker waits for the descriptor pieces still out once its network
# members have run (a piece of PAGE molecules takes a helper ~0.15 s).
DESCRIPTOR_WAIT = 0.5


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


class Early:
    """A chunk's new molecules sent to the helpers before the worker predicts them: first
    their descriptors (the model's descriptor input, `descriptors`, asked for once the network
    members have run), then their profiles, so that most are stored with their profile (no
    update after). `take` gives the profiles that arrived in time; the pieces still out are
    `Ahead.adopt`ed once their predictions are stored."""

    def __init__(self, found, pieces, rows=(), compute=None) -> None:
        self.found: dict[str, dict] = found  # canonical SMILES -> profile
        self.pieces: list[tuple[list[str], Future]] = pieces
        self.rows: list[tuple[list[str], Future]] = list(rows)  # descriptor pieces
        self.compute = compute  # the model's own descriptor_rows, for a piece that failed

    def descriptors(self):
        """The descriptor rows of every new molecule, in order. The worker never waits long for
        a helper the machine gives little CPU: a piece not started is taken back, and after
        DESCRIPTOR_WAIT seconds in all the pieces still out are computed here."""
        import numpy as np

        deadline = time.monotonic() + DESCRIPTOR_WAIT
        parts = []
        for smiles, future in self.rows:
            if future.done() or not future.cancel():  # delivered, or a helper is on it
                try:
                    parts.append(future.result(timeout=max(0.0, deadline - time.monotonic())))
                    continue
                except FutureTimeout:
                    pass
                except Exception as error:  # BrokenProcessPool, or the pool was shut down
                    _drop_pool(error)
            parts.append(self.compute(smiles))
        return np.concatenate(parts)

    def take(self, wait: float) -> dict[str, dict]:
        """{canonical SMILES: profile} of what arrived, waiting up to `wait` seconds in all."""
        deadline = time.monotonic() + wait
        late = []
        for smiles, future in self.pieces:
            try:
                values = future.result(timeout=max(0.0, deadline - time.monotonic()))
            except FutureTimeout:
                late.append((smiles, future))
                continue
            except Exception as error:  # BrokenProcessPool: these stay pending
                _drop_pool(error)
                continue
            self.found.update(zip(smiles, values, strict=True))
        self.pieces = late
        return self.found


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

    def early(self, smiles: list[str], model=None) -> Early:
        """Send these new molecules (canonical SMILES) to the helpers while the worker predicts
        them: with `model`, their descriptor rows first (`Early.descriptors`; None when the
        model reads none or no helper runs), then the profiles of those no other model's
        prediction lends (reused)."""
        found = stored_profiles(smiles)
        todo = [text for text in smiles if text not in found]
        names = model.descriptor_names if model is not None else None
        rows, pieces = [], []
        if self.pool is None:
            return Early(found, pieces)
        try:
            if names is not None:
                for start in range(0, len(smiles), PAGE):
                    piece = smiles[start : start + PAGE]
                    rows.append((piece, self.pool.submit(profile.descriptor_rows, piece, names)))
            for start in range(0, len(todo), PAGE):
                piece = todo[start : start + PAGE]
                pieces.append((piece, self.pool.submit(profile.profiles_for_smiles, piece)))
        except Exception as error:  # BrokenProcessPool, or the pool was shut down
            _drop_pool(error)
            self.pool = None
            rows = []  # the model computes the descriptors itself
        return Early(found, pieces, rows, model.descriptor_rows if model is not None else None)

    def adopt(self, early: Early, stored: dict) -> None:
        """The pieces still out once their predictions are stored ({canonical SMILES:
        Prediction}): stored as they arrive, like the pieces `send` sends."""
        for smiles, future in early.pieces:
            piece = {stored[text].pk: text for text in smiles if text in stored}
            self.sent.append((piece, future))
        early.pieces = []

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
        flying = {pk for piece, _ in self.sent for pk in piece}  # adopted from `early`
        pending = {
            pk: smiles
            for pk, smiles in rows.values_list("prediction_id", "canonical_smiles")
            if pk not in flying
        }
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
