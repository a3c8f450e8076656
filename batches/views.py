"""Batch pages: upload and list, progress (htmx fragment), results, cancel, downloads."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django_htmx.http import HttpResponseStopPolling

from batches import owners, selectors, services, tasks
from batches.files import archive, downloads, exports
from batches.forms import BatchForm
from chemcore.domain import VERDICT_LABELS
from molfiles.parsing import BatchRefused
from predictions import search
from predictions import selectors as catalogue_selectors
from predictions.forms import PredictForm, StructureSearchForm
from predictions.throttling import refused


def paste_list(request: HttpRequest, form: PredictForm) -> HttpResponse:
    """Several lines pasted into the home page's box: start a batch (the visitor's own) and go
    to its page (predictions.views.home hands them here)."""
    too_many = refused(request, "batch_upload", "BATCH_UPLOAD_RATE", "batch uploads")
    if too_many is not None:  # counted with the batch page's uploads and the API's
        return too_many
    try:
        batch = services.batch_from_paste(
            text=form.cleaned_data["smiles"], owner_key=owners.request_owner_key(request)
        )
    except BatchRefused as refusal:
        form.add_error("smiles", str(refusal))
        context = {"form": form, **catalogue_selectors.home_lists()}
        return render(request, "predictions/home.html", context, status=400)
    tasks.enqueue_batch(batch)
    return redirect(batch)


@require_http_methods(["GET", "HEAD", "POST"])
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
                    owner_key=owners.request_owner_key(request),
                )
            except BatchRefused as refusal:
                form.add_error(None, str(refusal))
            else:
                tasks.enqueue_batch(batch)
                return redirect(batch)
        status = 400
    batches = selectors.batch_list(owners=owners.request_owner_keys(request))
    context = {"form": form, "batches": batches}
    return render(request, "batches/list.html", context, status=status)


def _rows_context(request: HttpRequest, batch) -> dict:
    show = request.GET.get("show", "")
    show = show if show in ("errors", *VERDICT_LABELS) else ""
    sorts = selectors.batch_sort_choices(batch)
    sort = request.GET.get("sort", "")
    sort = sort if sort in dict(sorts) else ""
    terms = StructureSearchForm(request.GET).cleaned_or_defaults()
    search_error = ""
    try:
        page = selectors.batch_rows_page(
            batch=batch,
            errors_only=show == "errors",
            verdict=show if show in VERDICT_LABELS else "",
            sort=sort,
            number=request.GET.get("page"),
            query=terms["q"],
            mode=terms["mode"],
            threshold=terms["similarity"],
        )
    except search.SearchError as error:  # a bad SMARTS: say why, show no rows
        search_error = str(error)
        page = Paginator([], selectors.ROWS_PER_PAGE).get_page(1)
    return {
        "batch": batch,
        "page": page,
        "show": show,
        "sort": sort,
        "sorts": sorts,
        "search_form": StructureSearchForm(initial=terms),
        "search_error": search_error,
    }


def _own_batch(request: HttpRequest, public_id: str):
    """The visitor's own batch with this link id, else 404."""
    return selectors.batch_get(public_id=public_id, owners=owners.request_owner_keys(request))


def _until_finished(request: HttpRequest, batch, response: HttpResponse) -> HttpResponse:
    """Swap in the final state, then stop htmx polling (HTTP 286)."""
    if batch.is_finished and request.htmx:
        return HttpResponseStopPolling(response.content)
    return response


@require_safe
def batch_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    batch = _own_batch(request, public_id)
    context = {
        **selectors.batch_progress(batch=batch),
        **_rows_context(request, batch),
        "downloads": list(exports.DOWNLOADS),
        "zip": archive.zip_state(batch=batch),
        **_outcome_context(batch),
    }
    return render(request, "batches/detail.html", context)


def _outcome_context(batch) -> dict:
    """The bad rows and the summary panel (batches/_outcome.html)."""
    return {
        "bad_rows": selectors.batch_rows(batch=batch, errors_only=True)[:100],
        "verdict_counts": selectors.batch_verdict_counts(batch=batch),
    }


@require_safe
def batch_progress(request: HttpRequest, public_id: str) -> HttpResponse:
    """The progress bar; its last update also swaps in the bad rows and the summary."""
    batch = _own_batch(request, public_id)
    context = selectors.batch_progress(batch=batch)
    if batch.is_finished:
        context |= {"outcome_oob": True, **_outcome_context(batch)}
    response = render(request, "batches/_progress.html", context)
    return _until_finished(request, batch, response)


@require_safe
def batch_rows(request: HttpRequest, public_id: str) -> HttpResponse:
    batch = _own_batch(request, public_id)
    response = render(request, "batches/_rows.html", _rows_context(request, batch))
    return _until_finished(request, batch, response)


@require_POST
def batch_cancel(request: HttpRequest, public_id: str) -> HttpResponse:
    batch = _own_batch(request, public_id)
    services.batch_cancel(batch=batch)
    return redirect(batch)


@require_http_methods(["GET", "HEAD", "POST"])
def batch_zip(request: HttpRequest, public_id: str) -> HttpResponse:
    """GET: the ZIP's state (polled while it is built). POST: ask the worker to build it."""
    batch = _own_batch(request, public_id)
    if request.method == "POST":
        if archive.zip_request(batch=batch):
            tasks.build_batch_zip(str(batch.pk))
        if not request.htmx:
            return redirect(f"{batch.get_absolute_url()}#zip")
    state = archive.zip_state(batch=batch)
    response = render(request, "batches/_zip.html", {"batch": batch, "zip": state})
    if request.htmx and batch.is_finished and not state.busy:
        return HttpResponseStopPolling(response.content)
    return response


@require_safe
def batch_download(request: HttpRequest, public_id: str, filename: str) -> HttpResponseBase:
    """CSV and SDF streamed from the rows; the ZIP only as the file the worker finished."""
    if filename not in downloads.NAMES:
        raise Http404("No such download.")
    batch = _own_batch(request, public_id)
    full = request.GET.get("precision") == "full"
    response = downloads.download_response(batch, filename, full=full, request=request)
    if response is None:  # the ZIP is not built yet: the batch page offers to prepare it
        return redirect(f"{batch.get_absolute_url()}#zip")
    return response
