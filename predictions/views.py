"""Thin views: read the request, call a service or selector, render."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from . import exports, selectors, services
from .forms import GalleryForm, PredictForm
from .models import Source


@require_http_methods(["GET", "POST"])
def home(request: HttpRequest) -> HttpResponse:
    form = PredictForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                result = services.prediction_get_or_create(
                    text=form.cleaned_data["smiles"], source=Source.FORM
                )
            except services.PredictionRefused as refusal:
                form.add_error("smiles", str(refusal))
            else:
                if result.standardisation_note:
                    messages.info(request, result.standardisation_note)
                if not result.created:
                    messages.info(
                        request, "This molecule was predicted before; showing the stored result."
                    )
                return redirect(result.prediction)
        status = 400
    context = {"form": form, **selectors.home_lists()}
    return render(request, "predictions/home.html", context, status=status)


@require_GET
def detail(request: HttpRequest, pk: str) -> HttpResponse:
    prediction = selectors.prediction_get(pk)
    context = {
        "prediction": prediction,
        "downloads": exports.ALL_DOWNLOADS,
        "edit_form": PredictForm(initial={"smiles": prediction.canonical_smiles}),
        "neighbours": services.nearest_measured(prediction),
    }
    return render(request, "predictions/detail.html", context)


def _download_body(prediction, filename: str) -> tuple[bytes | str, str]:
    if filename in exports.BLOB_DOWNLOADS:
        return exports.blob_bytes(prediction, filename), exports.BLOB_DOWNLOADS[filename][1]
    if filename == "values.csv":
        return exports.values_csv(prediction), exports.TABLE_DOWNLOADS[filename]
    if filename == "values.json":
        return exports.values_json(prediction), exports.TABLE_DOWNLOADS[filename]
    if filename == "bundle.zip":
        return exports.bundle_zip(prediction), "application/zip"
    raise Http404("No such download.")


@require_GET
def download(request: HttpRequest, pk: str, filename: str) -> HttpResponse:
    if filename not in exports.ALL_DOWNLOADS:
        raise Http404("No such download.")
    prediction = selectors.prediction_get(pk)
    version = (
        f"{prediction.pk}:{prediction.model_hash}:{prediction.updated_at.isoformat()}:{filename}"
    )
    etag = f'"{hashlib.sha256(version.encode()).hexdigest()[:32]}"'
    if etag in request.headers.get("If-None-Match", ""):
        response = HttpResponse(status=304)
    else:
        if filename in exports.BLOB_DOWNLOADS:  # batch predictions are drawn on first view
            fields = (exports.BLOB_DOWNLOADS[filename][0],)
            services.prediction_ensure_blobs(prediction=prediction, fields=fields)
        elif filename == "bundle.zip":
            services.prediction_ensure_blobs(prediction=prediction)
        body, content_type = _download_body(prediction, filename)
        response = HttpResponse(body, content_type=content_type)
        inline = filename.endswith((".png", ".svg")) and "download" not in request.GET
        disposition = "inline" if inline else "attachment"
        response["Content-Disposition"] = (
            f'{disposition}; filename="{exports.download_stem(prediction)}-{filename}"'
        )
    if filename.endswith(".svg"):  # an SVG opened on its own must not run anything
        response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    response["ETag"] = etag
    response["Cache-Control"] = "public, max-age=3600"
    return response


@require_GET
def gallery(request: HttpRequest) -> HttpResponse:
    form = GalleryForm(request.GET)
    terms = form.cleaned_or_defaults()
    predictions = selectors.gallery_list(query=terms["q"], featured_only=terms["featured"])
    page = Paginator(predictions, terms["page_size"]).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "terms": terms,
        "query": query.urlencode(),
        "page_sizes": settings.GALLERY_PAGE_SIZES,
    }
    return render(request, "predictions/gallery.html", context)


@require_GET
def random_example(request: HttpRequest) -> HttpResponse:
    prediction = selectors.random_example()
    if prediction is None:
        return render(request, "predictions/random_empty.html")
    return redirect(prediction)
