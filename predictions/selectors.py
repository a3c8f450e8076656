"""Read-side queries. Kept portable across SQLite and MongoDB (no order_by('?'), no joins)."""

from __future__ import annotations

import random

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import Http404

from .models import Prediction


def _get_visible(predictions: QuerySet[Prediction], pk: str) -> Prediction:
    """404 for unknown, hidden or malformed ids, on any backend."""
    try:
        return predictions.visible().get(pk=pk)
    except (Prediction.DoesNotExist, ValueError, TypeError, ValidationError):
        raise Http404("No such prediction.") from None


def prediction_get(pk: str, *, blobs: tuple[str, ...] = ()) -> Prediction:
    """The visible prediction with this id, loading only the picture blobs named in `blobs`."""
    skipped = [name for name in Prediction.BLOB_FIELDS if name not in blobs]
    return _get_visible(Prediction.objects.defer(*skipped), pk)


def prediction_version(pk: str) -> Prediction:
    """Only what versions a prediction's downloads (ETag, Last-Modified): no blobs."""
    return _get_visible(Prediction.objects.only("pk", "model_hash", "updated_at"), pk)


def gallery_list(*, query: str = "", featured_only: bool = False, verdict: str = ""):
    predictions = Prediction.objects.visible().without_blobs()
    if featured_only:
        predictions = predictions.filter(featured=True)
    if verdict:
        predictions = predictions.filter(verdict=verdict)
    if query:
        predictions = predictions.filter(
            Q(canonical_smiles__icontains=query)
            | Q(title__icontains=query)
            | Q(input_text__icontains=query)
        )
    return predictions.order_by("-featured", "-created_at")


def home_lists(*, size: int = 8) -> dict:
    visible = Prediction.objects.visible().without_blobs()
    return {
        "featured": list(visible.filter(featured=True).order_by("-updated_at")[:size]),
        "recent": list(visible.order_by("-created_at")[:size]),
    }


def random_example() -> Prediction | None:
    """A random featured example, else any visible prediction; count + random offset."""
    visible = Prediction.objects.visible().without_blobs()
    for candidates in (visible.filter(featured=True), visible):
        count = candidates.count()
        if count:
            return candidates.order_by("created_at", "pk")[random.randrange(count)]
    return None
