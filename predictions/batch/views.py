"""Batch pages: upload and list, progress (htmx fragment), results, cancel, downloads."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseStopPolling

from predictions.models import Batch, BatchRow

from . import exports, services
from .forms import BatchForm
from .parsing import BatchRefused

ROWS_PER_PAGE = 50
DOWNLOADS = {
    "results.csv": (exports.stream_csv, "text/csv; charset=utf-8"),
    "results.sdf": (exports.stream_sdf, "chemical/x-mdl-sdfile; charset=utf-8"),
    "results.zip": (exports.stream_zip, "application/zip"),
}


def _get(pk: str) -> Batch:
    try:
        return Batch.objects.get(pk=pk)
    except (Batch.DoesNotExist, ValueError, TypeError, ValidationError):
        raise Http404("No such batch.") from None


def _progress(batch: Batch) -> dict:
    """Rate (rows/s) and time left from the rows processed since the batch started."""
    rate = seconds_left = None
    if batch.started_at and batch.rows_processed:
        end = batch.finished_at or timezone.now()
        elapsed = max((end - batch.started_at).total_seconds(), 1e-3)
        rate = batch.rows_processed / elapsed
        if not batch.is_finished:
            seconds_left = int((batch.total_rows - batch.rows_processed) / rate)
    return {"batch": batch, "rate": rate, "seconds_left": seconds_left}


@require_http_methods(["GET", "POST"])
def batch_list(request: HttpRequest) -> HttpResponse:
    form = BatchForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                batch = services.batch_create(
                    upload=form.cleaned_data["file"],
                    text=form.cleaned_data["text"],
                    smiles_column=form.cleaned_data["smiles_column"],
                    id_column=form.cleaned_data["id_column"],
                )
            except BatchRefused as refusal:
                form.add_error(None, str(refusal))
            else:
                return redirect(batch)
        status = 400
    batches = Batch.objects.order_by("-created_at")[:50]
    return render(request, "batches/list.html", {"form": form, "batches": batches}, status=status)


def _rows_page(request: HttpRequest, batch: Batch):
    rows = BatchRow.objects.filter(batch_id=batch.pk).order_by("row_number")
    if request.GET.get("show") == "errors":
        rows = rows.filter(status=BatchRow.Status.ERROR)
    return Paginator(rows, ROWS_PER_PAGE).get_page(request.GET.get("page"))


@require_GET
def batch_detail(request: HttpRequest, pk: str) -> HttpResponse:
    batch = _get(pk)
    context = {
        **_progress(batch),
        "page": _rows_page(request, batch),
        "downloads": list(DOWNLOADS),
        "show": request.GET.get("show", ""),
        "bad_rows": BatchRow.objects.filter(
            batch_id=batch.pk, status=BatchRow.Status.ERROR
        ).order_by("row_number")[:100],
    }
    return render(request, "batches/detail.html", context)


@require_GET
def batch_progress(request: HttpRequest, pk: str) -> HttpResponse:
    batch = _get(pk)
    response = render(request, "batches/_progress.html", _progress(batch))
    if batch.is_finished and request.htmx:
        # Swap in the final state, then stop polling (HTTP 286).
        response = HttpResponseStopPolling(response.content)
    return response


@require_GET
def batch_rows(request: HttpRequest, pk: str) -> HttpResponse:
    batch = _get(pk)
    context = {
        "batch": batch,
        "page": _rows_page(request, batch),
        "show": request.GET.get("show", ""),
    }
    response = render(request, "batches/_rows.html", context)
    if batch.is_finished and request.htmx:
        response = HttpResponseStopPolling(response.content)
    return response


@require_POST
def batch_cancel(request: HttpRequest, pk: str) -> HttpResponse:
    batch = _get(pk)
    services.batch_cancel(batch=batch)
    return redirect(batch)


@require_GET
def batch_download(request: HttpRequest, pk: str, filename: str) -> StreamingHttpResponse:
    if filename not in DOWNLOADS:
        raise Http404("No such download.")
    batch = _get(pk)
    stream, content_type = DOWNLOADS[filename]
    response = StreamingHttpResponse(stream(batch), content_type=content_type)
    stem = slugify(batch.filename.rsplit(".", 1)[0])[:60] or "batch"
    response["Content-Disposition"] = f'attachment; filename="{stem}-{batch.pk}-{filename}"'
    return response
