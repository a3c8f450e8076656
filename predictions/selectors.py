"""Read-side queries. Kept portable across SQLite and MongoDB (no order_by('?'), no joins).

The one place that decides what a visitor sees: a prediction's page and files by its
unguessable `public_id` (private ones included), lists only `listed()` (public) ones.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.core.paginator import Page, Paginator
from django.db.models import Case, F, FloatField, QuerySet, When
from django.http import Http404

from chemreport import profile
from predictions import search
from predictions.models import Prediction, Source
from predictions.serving import get_model

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


def gallery_sort_choices() -> list[tuple[str, str]]:
    """The orders the gallery can be shown in: `sort` value -> what it says. "" is newest
    first (featured first, as always); `o<i>` / `-o<i>` order by the loaded model's output i,
    low or high first, the direction the model calls favourable saying so."""
    choices = [("", "Newest first")]
    for index, spec in enumerate(get_model().outputs):
        for sort, words, favourable in (
            (f"o{index}", "low to high", "lower"),
            (f"-o{index}", "high to low", "higher"),
        ):
            best = " (favourable first)" if spec.favourable == favourable else ""
            choices.append((sort, f"{spec.label}, {words}{best}"))
    return choices


def by_output(predictions: QuerySet[Prediction], sort: str, model_hash: str) -> QuerySet:
    """`predictions` ordered by output `sort` ("o3": the fourth output, low to high; "-o3":
    high to low) of the model with `model_hash`, newest first among equal values.

    The value is read from the stored JSON list by index (JSON_EXTRACT on SQLite,
    $arrayElemAt on MongoDB, as a batch's rows are sorted), only for that model's
    predictions: another model's list may hold other outputs in other places. Theirs, and
    any without the value, read as null and come last either way."""
    value = F(f"outputs__{int(sort.lstrip('-o'))}__value")
    mine = Case(When(model_hash=model_hash, then=value), default=None, output_field=FloatField())
    mine = mine.desc(nulls_last=True) if sort.startswith("-") else mine.asc(nulls_last=True)
    return predictions.order_by(mine, "-published_at")


def gallery_list(
    *, query: str = "", featured_only: bool = False, verdict: str = "", sort: str = ""
):
    """Listed predictions, filtered, newest first (featured first) or in `sort` order (a
    value of `gallery_sort_choices`, checked by the caller's form)."""
    predictions = Prediction.objects.listed().without_blobs()
    if featured_only:
        predictions = predictions.filter(featured=True)
    if verdict:
        predictions = predictions.filter(verdict=verdict)
    if query:
        predictions = predictions.filter(search.text_or_exact(query, GALLERY_TEXT_FIELDS))
    if sort:
        return by_output(predictions, sort, get_model().weights_hash)
    return predictions.order_by("-featured", "-published_at")


def gallery_page(
    *,
    query: str = "",
    mode: str = "",
    threshold: float = 0.5,
    featured_only: bool = False,
    verdict: str = "",
    sort: str = "",
    per_page: int,
    number=None,
) -> tuple[Page, str]:
    """A page of listed predictions matching a name/SMILES, substructure or similarity search
    (see predictions.search; raises its SearchError), and a note if matches were cut short.

    A `sort` orders every kind of result: a substructure search keeps its candidates' order
    anyway, and a similarity search's hits (most similar first without one) are put in it."""
    listed = gallery_list(featured_only=featured_only, verdict=verdict, sort=sort)
    cache_key = ("gallery", featured_only, verdict)
    if sort and query and mode == "similar":
        hits = search.similar_hits(
            listed, search.similarity_query(query), threshold, cache_key=cache_key
        )
        found = set(hits.pks)
        ordered = [pk for pk in listed.values_list("pk", flat=True) if pk in found]
        page = Paginator(ordered, per_page).get_page(number)
        shown = {p.pk: p for p in listed.filter(pk__in=list(page.object_list))}
        records = [shown[pk] for pk in page.object_list if pk in shown]
        for record in records:
            record.search_similarity = hits.scores[record.pk]
        page.object_list = with_profiles(records)
        page.search_note = ""
        return page, ""
    page, note = search.search_page(
        listed,
        query=query,
        mode=mode,
        threshold=threshold,
        text_fields=GALLERY_TEXT_FIELDS,
        per_page=per_page,
        number=number,
        cache_key=cache_key,
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


# --- RDKit profiles: a pure function of the canonical SMILES, computed once and stored --------
# (services.profiles_store). A batch leaves its new molecules' profiles pending and fills them
# after its predictions (batches.worker.profiles); a read that needs one first computes it in
# memory, so no page ever shows a prediction without it and no read writes.


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


def with_profile(prediction: Prediction) -> Prediction:
    """The prediction with its profile, computed in memory if its batch has not got to it yet."""
    return with_profiles([prediction])[0]


def with_profiles(predictions: list[Prediction]) -> list[Prediction]:
    """`with_profile` for a page of cards at once (a curator may list a batch's prediction
    before the batch profiled it): one look-up for the pending ones, nothing stored. The
    batch's profile pass or the periodic fill (`fill_left_over_profiles`) stores them."""
    pending = [p for p in predictions if p.profile_pending]
    if pending:
        found = profiles_for(p.canonical_smiles for p in pending)
        for prediction in pending:
            prediction.profile = found[prediction.canonical_smiles]
    return predictions
