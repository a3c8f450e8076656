"""Read-side batch queries: pages, progress and the batches a worker should pick up.

Visitors reach a batch only through `batch_get`/`batch_list`, which take the request's owner
keys (batches/owners.py): another visitor's batch is a 404, never a 403.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.paginator import Page, Paginator
from django.db.models import Case, F, IntegerField, QuerySet, Value, When
from django.http import Http404
from django.utils import timezone

from batches.models import Batch, BatchRow
from batches.worker import holders
from predictions import search

ROWS_PER_PAGE = 50
# What a plain search of a batch's results looks in (besides the exact structure).
BATCH_TEXT_FIELDS = ("input_id", "input_smiles", "canonical_smiles")


def batch_get(*, public_id: str, owners: list[str]) -> Batch:
    """The owners' batch with this link id; 404 for anyone else's, unknown or malformed ids."""
    try:
        return Batch.objects.owned_by(owners).get(public_id=public_id)
    except (Batch.DoesNotExist, ValueError, TypeError, ValidationError):
        raise Http404("No such batch.") from None


def batch_list(*, owners: list[str], limit: int = 50) -> QuerySet[Batch]:
    return Batch.objects.owned_by(owners).order_by("-created_at")[:limit]


def batch_rows(*, batch: Batch, errors_only: bool = False, verdict: str = "") -> QuerySet[BatchRow]:
    """The batch's rows in input order: all, the bad ones, or those with one domain verdict."""
    rows = BatchRow.objects.filter(batch_id=batch.pk).order_by("row_number")
    if verdict:
        rows = rows.filter(verdict=verdict)
    return rows.filter(status=BatchRow.Status.ERROR) if errors_only else rows


def batch_sort_choices(batch: Batch) -> list[tuple[str, str]]:
    """The orders a batch's rows can be shown in: `sort` value -> what it says."""
    choices = [("", "Input order"), ("verdict", "Domain verdict, in domain first")]
    for index, spec in enumerate(batch.output_specs):
        choices += [
            (f"o{index}", f"{spec['label']}, low to high"),
            (f"-o{index}", f"{spec['label']}, high to low"),
        ]
    return choices


def _ordered(rows: QuerySet[BatchRow], sort: str) -> QuerySet[BatchRow]:
    """Rows in `sort` order, by the database; rows without a value (bad rows) last, ties in
    input order. Output values are read from the JSON list by index (JSON_EXTRACT on SQLite,
    $arrayElemAt on MongoDB); "ok" sorts after "error", so `-status` puts bad rows last."""
    if sort == "verdict":
        rank = Case(
            *[When(verdict=v, then=Value(n)) for n, v in enumerate(("in", "care", "out"))],
            default=Value(3),
            output_field=IntegerField(),
        )
        return rows.order_by(rank, "row_number")
    value = F(f"outputs__{int(sort.lstrip('-o'))}__value")
    value = value.desc() if sort.startswith("-") else value.asc()
    return rows.order_by("-status", value, "row_number")


def batch_rows_page(
    *,
    batch: Batch,
    errors_only: bool = False,
    verdict: str = "",
    sort: str = "",
    number=None,
    query: str = "",
    mode: str = "",
    threshold: float = 0.5,
) -> Page:
    """A page of the batch's rows. A substructure or similarity search (predictions.search;
    raises its SearchError) orders rows itself: input order, or most similar first."""
    rows = batch_rows(batch=batch, errors_only=errors_only, verdict=verdict)
    if query and mode in search.STRUCTURE_MODES:
        page, _ = search.search_page(
            rows,
            query=query,
            mode=mode,
            threshold=threshold,
            text_fields=BATCH_TEXT_FIELDS,
            per_page=ROWS_PER_PAGE,
            number=number,
        )
        return page
    if query:
        rows = rows.filter(search.text_or_exact(query, BATCH_TEXT_FIELDS))
    if sort:
        rows = _ordered(rows, sort)
    return Paginator(rows, ROWS_PER_PAGE).get_page(number)


def batch_verdict_counts(*, batch: Batch) -> list[dict]:
    """Rows per applicability-domain verdict (one count query each: portable, index-backed)."""
    rows = BatchRow.objects.filter(batch_id=batch.pk, status=BatchRow.Status.OK)
    return [
        {"verdict": verdict, "count": rows.filter(verdict=verdict).count()}
        for verdict in ("in", "care", "out")
    ]


def batch_progress(*, batch: Batch) -> dict:
    """Rate (rows/s) and time left from the rows processed since the batch started."""
    rate = seconds_left = None
    if batch.started_at and batch.rows_processed:
        end = batch.finished_at or timezone.now()
        elapsed = max((end - batch.started_at).total_seconds(), 1e-3)
        rate = batch.rows_processed / elapsed
        if not batch.is_finished:
            seconds_left = int((batch.total_rows - batch.rows_processed) / rate)
    return {"batch": batch, "rate": rate, "seconds_left": seconds_left}


def batch_ids_to_resume() -> list[str]:
    """Unfinished batches no live worker holds (worker start-up, periodic check): never
    leased, lease run out, or held by a process of this host that is gone (killed, restarted)."""
    now = timezone.now()
    unleased = Batch.objects.active().unleased(now).values_list("pk", flat=True)
    leased = Batch.objects.active().filter(lease_until__gte=now)
    orphaned = [
        pk for pk, holder in leased.values_list("pk", "lease_owner") if holders.is_gone(holder)
    ]
    return [str(pk) for pk in [*unleased, *orphaned]]
