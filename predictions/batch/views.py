"""Batch pages: upload and list, progress (htmx fragment), results, cancel, downloads."""

from __future__ import annotations

from functools import partial

from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.http import content_disposition_header
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseStopPolling

from predictions import tasks
from predictions.domain import VERDICT_LABELS

from . import exports, selectors, services
from .forms import BatchForm
from .parsing import BatchRefused


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
                # The worker must find the batch: queue it once it is committed.
                transaction.on_commit(partial(tasks.run_batch, str(batch.pk)))
                return redirect(batch)
        status = 400
    context = {"form": form, "batches": selectors.batch_list()}
    return render(request, "batches/list.html", context, status=status)


def _rows_context(request: HttpRequest, batch) -> dict:
    show = request.GET.get("show", "")
    show = show if show in ("errors", *VERDICT_LABELS) else ""
    page = selectors.batch_rows_page(
        batch=batch,
        errors_only=show == "errors",
        verdict=show if show in VERDICT_LABELS else "",
        number=request.GET.get("page"),
    )
    return {"batch": batch, "page": page, "show": show}


def _until_finished(request: HttpRequest, batch, response: HttpResponse) -> HttpResponse:
    """Swap in the final state, then stop htmx polling (HTTP 286)."""
    if batch.is_finished and request.htmx:
        return HttpResponseStopPolling(response.content)
    return response


@require_GET
def batch_detail(request: HttpRequest, pk: str) -> HttpResponse:
    batch = selectors.batch_get(pk=pk)
    context = {
        **selectors.batch_progress(batch=batch),
        **_rows_context(request, batch),
        "downloads": list(exports.DOWNLOADS),
        "bad_rows": selectors.batch_rows(batch=batch, errors_only=True)[:100],
    }
    return render(request, "batches/detail.html", context)


@require_GET
def batch_progress(request: HttpRequest, pk: str) -> HttpResponse:
    batch = selectors.batch_get(pk=pk)
    response = render(request, "batches/_progress.html", selectors.batch_progress(batch=batch))
    return _until_finished(request, batch, response)


@require_GET
def batch_rows(request: HttpRequest, pk: str) -> HttpResponse:
    batch = selectors.batch_get(pk=pk)
    response = render(request, "batches/_rows.html", _rows_context(request, batch))
    return _until_finished(request, batch, response)


@require_POST
def batch_cancel(request: HttpRequest, pk: str) -> HttpResponse:
    batch = selectors.batch_get(pk=pk)
    services.batch_cancel(batch=batch)
    return redirect(batch)


@require_GET
def batch_download(request: HttpRequest, pk: str, filename: str) -> StreamingHttpResponse:
    if filename not in exports.DOWNLOADS:
        raise Http404("No such download.")
    batch = selectors.batch_get(pk=pk)
    download = exports.DOWNLOADS[filename]
    response = StreamingHttpResponse(download.build(batch), content_type=download.content_type)
    stem = slugify(batch.filename.rsplit(".", 1)[0])[:60] or "batch"
    response["Content-Disposition"] = content_disposition_header(
        True, f"{stem}-{batch.pk}-{filename}"
    )
    return response
