"""Stored RDKit profiles: reuse one already stored, fill a pending one, keep it everywhere.

A profile is a pure function of the canonical SMILES (`chemreport.profile`), so it is computed
once and stored on the prediction, and the batch rows that copied it follow (signals.py). A batch leaves its new
molecules' profiles pending and fills them after its predictions (`batches.profiles`);
a read that needs one first (a prediction's page, a card) computes it in memory
(`with_profiles`, nothing stored), so no page ever shows a prediction without it. Each update is a conditional single-document one
(`profile_pending=True`): filling is idempotent and no transaction is relied on (MongoDB).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from django.db import connection, transaction
from django.utils import timezone

from chemreport import profile
from predictions.models import Prediction
from predictions.signals import profiles_stored


def stored_profiles(smiles: Iterable[str]) -> dict[str, dict]:
    """Profiles already stored for these canonical SMILES, by any model's prediction."""
    stored = Prediction.objects.filter(canonical_smiles__in=set(smiles), profile_pending=False)
    return {
        text: value
        for text, value in stored.values_list("canonical_smiles", "profile")
        if value and value.get("version") == profile.PROFILE_VERSION
    }


def profiles_for(smiles: Iterable[str]) -> dict[str, dict]:
    """The profiles of these canonical SMILES: one already stored is reused, the others computed."""
    wanted = set(smiles)
    found = stored_profiles(wanted)
    return {text: found.get(text) or profile.profile_for_smiles(text) for text in wanted}


def one_commit():
    """One commit for a page's updates where the database has transactions (SQLite: ~2 ms a
    molecule less); only for speed, correctness never depends on it (each update stands
    alone, and MongoDB may run them one by one)."""
    if connection.features.supports_transactions:
        return transaction.atomic()
    return contextlib.nullcontext()


def store(values: dict) -> None:
    """Store {prediction pk: profile} on the predictions, then on every batch row still pending
    that copied them."""
    now = timezone.now()  # moves: a download's ETag must not keep a file made before the profile
    with one_commit():
        for pk, value in values.items():
            Prediction.objects.filter(pk=pk, profile_pending=True).update(
                profile=value, profile_pending=False, updated_at=now
            )
    profiles_stored.send(sender=Prediction, profiles=values)  # batch rows' copies


def fill(pending: dict) -> dict:
    """Store the profiles of these predictions ({pk: canonical SMILES}) and of every batch row
    that copied them; returns {pk: profile}."""
    values = profiles_for(pending.values())
    filled = {pk: values[smiles] for pk, smiles in pending.items()}
    store(filled)
    return filled


def with_profile(prediction: Prediction) -> Prediction:
    """The prediction with its profile, computed in memory if its batch has not got to it yet."""
    return with_profiles([prediction])[0]


def with_profiles(predictions: list[Prediction]) -> list[Prediction]:
    """`with_profile` for a page of cards at once (a curator may list a batch's prediction
    before the batch profiled it): one look-up for the pending ones, nothing stored. Reads
    never write; the batch's profile pass or the periodic fill (`fill_left_over_profiles`)
    stores them."""
    pending = [p for p in predictions if p.profile_pending]
    if pending:
        found = profiles_for(p.canonical_smiles for p in pending)
        for prediction in pending:
            prediction.profile = found[prediction.canonical_smiles]
    return predictions
