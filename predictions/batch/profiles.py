"""RDKit profiles that a batch left pending, filled in after its predictions.

The profile costs more CPU than the prediction itself (FilterCatalog alerts, QED), so a
batch stores its new molecules without it (`profile_pending`) and its rows count as done at
the model's speed; then the same worker fills the profiles (`fill_batch`, stage "profiling").
A prediction opened, or a batch exported, before that gets its profile there and then
(`ensure_profile`, `complete_rows`), so no page or file ever shows a prediction without it.

A profile is a pure function of the canonical SMILES, so filling is idempotent and a race is
harmless: two workers that compute one molecule store the same value. Each prediction is one
single-document conditional update (`profile_pending=True`), then one update of every batch
row that copied it (any batch: another batch may have copied a pending prediction). No
transaction is relied on (MongoDB). A worker killed half-way leaves some rows pending; the
resumed batch (or, for a finished one, `fill_left_over`) fills them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from django.utils import timezone

from predictions import profile
from predictions.models import Batch, BatchRow, Prediction

# Molecules per step of the pass: ~1 s of profiles; the page's count moves after each.
PAGE = 64


def profiles_for(smiles: Iterable[str]) -> dict[str, dict]:
    """The profiles of these canonical SMILES: one already stored (by any model's prediction of
    the same molecule) is reused, the others are computed."""
    wanted = set(smiles)
    stored = Prediction.objects.filter(canonical_smiles__in=wanted, profile_pending=False)
    found = {
        text: value
        for text, value in stored.values_list("canonical_smiles", "profile")
        if value and value.get("version") == profile.PROFILE_VERSION
    }
    return {text: found.get(text) or profile.profile_for_smiles(text) for text in wanted}


def fill(pending: dict) -> dict:
    """Store the profiles of these predictions ({pk: canonical SMILES}) and of every batch row
    that copied them; returns {pk: profile}."""
    values = profiles_for(pending.values())
    now = timezone.now()
    for pk, smiles in pending.items():
        value = values[smiles]
        # updated_at moves: a download's ETag must not keep a file made before the profile.
        Prediction.objects.filter(pk=pk, profile_pending=True).update(
            profile=value, profile_pending=False, updated_at=now
        )
        BatchRow.objects.filter(prediction_id=pk, profile_pending=True).update(
            profile=value, profile_pending=False
        )
    return {pk: values[smiles] for pk, smiles in pending.items()}


def _fill_rows(rows: list[tuple]) -> None:
    """(row pk, prediction pk, canonical SMILES) of pending rows: fill them and their predictions."""
    fill({prediction: smiles for _, prediction, smiles in rows if prediction is not None})
    for pk, prediction, smiles in rows:
        if prediction is None:  # its prediction was deleted: the row keeps its own copy
            BatchRow.objects.filter(pk=pk).update(
                profile=profile.profile_for_smiles(smiles), profile_pending=False
            )


def pending_rows(batch_pk) -> int:
    return BatchRow.objects.filter(batch_id=batch_pk, profile_pending=True).count()


def fill_batch(batch_pk, *, carry_on: Callable[[int], bool] = lambda left: True) -> bool:
    """Fill a batch's pending rows in row order, PAGE molecules at a time; True once none is left.

    After each page `carry_on(rows still pending)` is asked whether to go on (the worker
    reports progress there, and stops when the batch was cancelled or its lease taken over).
    """
    rows = BatchRow.objects.filter(batch_id=batch_pk, profile_pending=True).order_by("row_number")
    while True:
        page = list(rows.values_list("pk", "prediction_id", "canonical_smiles")[:PAGE])
        if not page:
            return True
        _fill_rows(page)
        if not carry_on(pending_rows(batch_pk)):
            return False


def complete_rows(rows: list[BatchRow]) -> list[BatchRow]:
    """Batch rows as an export needs them: a row still waiting for its profile gets it now."""
    waiting = [row for row in rows if row.profile_pending]
    if waiting:
        filled = fill(
            {row.prediction_id: row.canonical_smiles for row in waiting if row.prediction_id}
        )
        for row in waiting:
            row.profile = filled.get(row.prediction_id) or profile.profile_for_smiles(
                row.canonical_smiles
            )
            row.profile_pending = False
    return rows


def ensure_profile(prediction: Prediction) -> Prediction:
    """The prediction with its profile, filled now if its batch has not got to it yet."""
    if prediction.profile_pending:
        prediction.profile = fill({prediction.pk: prediction.canonical_smiles})[prediction.pk]
        prediction.profile_pending = False
    return prediction


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
            fill(dict(page))
        filled += len(page)
    return filled
