"""Read-side queries. Kept portable across SQLite and MongoDB (no order_by('?'), no joins).

The one place that decides what a visitor sees: a prediction's page and files by its
unguessable `public_id` (private ones included), lists only `listed()` (public) ones.
"""

from __future__ import annotations

import random

from django.core.exceptions import ValidationError
from django.core.paginator import Page
from django.db.models import QuerySet
from django.http import Http404

from predictions import search
from predictions.models import Prediction, Source
from predictions.profile_store import with_profile, with_profiles

# What a plain gallery search looks in (besides the exact structure, when it is a SMILES).
GALLERY_TEXT_FIELDS = ("canonical_smiles", "title", "input_text")


def _get_visible(predictions: QuerySet[Prediction], public_id: str) -> Prediction:
    """404 for unknown, hidden or malformed ids, on any backend."""
    try:
        return predictions.visible().get(public_id=public_id)
    except (Prediction.DoesNotExist, ValueError, TypeError, ValidationError):
        raise Http404("No such prediction.") from None


def prediction_get(public_id: str, *, blobs: tuple[str, ...] = ()) -> Prediction:
    """The visible prediction with this link id, loading only the blobs named in `blobs`.

    A batch's prediction opened before its batch stored its RDKit profile shows it computed
    in memory (a read never writes).
    """
    skipped = [name for name in Prediction.BLOB_FIELDS if name not in blobs]
    return unattributed(with_profile(_get_visible(Prediction.objects.defer(*skipped), public_id)))


def unattributed(prediction: Prediction) -> Prediction:
    """A private prediction as its link shows it (page, downloads, API), in memory only.

    Its link is shared by everyone who predicts the molecule privately (one row per molecule
    and model), so it shows nothing of how the first of them wrote it: the input is the
    canonical SMILES and there is no standardisation note (each caller is told their own when
    they predict). A listed prediction shows them: its existence is public anyway.
    """
    if not prediction.public:
        prediction.input_text = prediction.canonical_smiles
        prediction.standardisation_note = ""
    return prediction


def prediction_version(public_id: str) -> Prediction:
    """Only what versions a prediction's downloads (ETag, Last-Modified): no blobs."""
    fields = ("pk", "public_id", "model_hash", "updated_at", "public", "published_at")
    return _get_visible(Prediction.objects.only(*fields), public_id)


def gallery_list(*, query: str = "", featured_only: bool = False, verdict: str = ""):
    predictions = Prediction.objects.listed().without_blobs()
    if featured_only:
        predictions = predictions.filter(featured=True)
    if verdict:
        predictions = predictions.filter(verdict=verdict)
    if query:
        predictions = predictions.filter(search.text_or_exact(query, GALLERY_TEXT_FIELDS))
    return predictions.order_by("-featured", "-published_at")


def gallery_page(
    *,
    query: str = "",
    mode: str = "",
    threshold: float = 0.5,
    featured_only: bool = False,
    verdict: str = "",
    per_page: int,
    number=None,
) -> tuple[Page, str]:
    """A page of listed predictions matching a name/SMILES, substructure or similarity search
    (see predictions.search; raises its SearchError), and a note if matches were cut short."""
    listed = gallery_list(featured_only=featured_only, verdict=verdict)
    page, note = search.search_page(
        listed,
        query=query,
        mode=mode,
        threshold=threshold,
        text_fields=GALLERY_TEXT_FIELDS,
        per_page=per_page,
        number=number,
        cache_key=("gallery", featured_only, verdict),
    )
    page.object_list = with_profiles(list(page.object_list))  # a card's alert count
    return page, note


def home_lists(*, size: int = 8) -> dict:
    """The featured examples, and the latest molecules users published, examples aside."""
    listed = Prediction.objects.listed().without_blobs()
    recent = listed.filter(featured=False).exclude(source=Source.EXAMPLE)
    recent = recent.order_by("-published_at")
    return {
        "featured": with_profiles(
            list(listed.filter(featured=True).order_by("-updated_at")[:size])
        ),
        "recent": with_profiles(list(recent[:size])),
    }


def random_example() -> Prediction | None:
    """A random featured example, else any listed prediction; count + random offset."""
    listed = Prediction.objects.listed().without_blobs()
    for candidates in (listed.filter(featured=True), listed):
        count = candidates.count()
        if count:
            return candidates.order_by("created_at", "pk")[random.randrange(count)]
    return None
