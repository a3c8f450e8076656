"""Thin views: read the request, call a service or selector, render."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import wraps

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_cache_control
from django.utils.http import content_disposition_header
from django.views.decorators.http import condition, require_GET, require_http_methods, require_safe

from chemreport import salts
from predictions import search, selectors, services
from predictions.downloads import cache as download_cache
from predictions.downloads import exports
from predictions.forms import GalleryForm, PredictForm, is_list
from predictions.models import Prediction, Source
from predictions.serving import reference
from predictions.throttling import visitor_throttle

# The view that answers a home-page form holding several lines: set by an app built on this
# one (batches turns the list into a batch); without one, a list is refused as a bad SMILES.
_list_view: Callable[[HttpRequest, PredictForm], HttpResponse] | None = None


def take_pasted_lists(view: Callable[[HttpRequest, PredictForm], HttpResponse]) -> None:
    """Let `view` answer the home page's pasted lists (called from an AppConfig.ready)."""
    global _list_view
    _list_view = view


@require_http_methods(["GET", "HEAD", "POST"])
def home(request: HttpRequest) -> HttpResponse:
    form = PredictForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid() and _list_view is not None and is_list(form.cleaned_data["smiles"]):
            return _list_view(request, form)
        if form.is_valid():
            try:
                result = services.prediction_get_or_create(
                    text=form.cleaned_data["smiles"],
                    source=Source.FORM,
                    public=not form.cleaned_data["keep_private"],
                )
            except services.PredictionRefused as refusal:
                form.add_error("smiles", str(refusal))
            else:
                # A listed result's page shows the stored note: repeat only a different one (once
                # each). A private page shows none (selectors.unattributed): say the caller's.
                prediction = result.prediction
                shown = prediction.standardisation_note if prediction.public else ""
                if result.standardisation_note not in ("", shown):
                    note = result.standardisation_note
                    parent = salts.parent_note(note, prediction.formula, prediction.outputs)
                    messages.info(request, f"{note} {parent}".strip())
                if result.was_public:  # never say so of a private (batch) molecule
                    messages.info(
                        request, "This molecule was predicted before; showing the stored result."
                    )
                return redirect(result.prediction)
        status = 400
    context = {"form": form, **selectors.home_lists()}
    return render(request, "predictions/home.html", context, status=status)


@require_safe
def detail(request: HttpRequest, public_id: str) -> HttpResponse:
    prediction = selectors.prediction_get(public_id)
    initial = {"smiles": prediction.canonical_smiles, "keep_private": not prediction.public}
    context = {
        "prediction": prediction,
        "downloads": list(exports.DOWNLOADS),
        "edit_form": PredictForm(initial=initial),
        "neighbours": services.nearest_measured(prediction),
        "parent_note": exports.parent_note(prediction),
        "drug_context": reference.page_context(prediction),
    }
    response = render(request, "predictions/detail.html", context)
    if not prediction.public:
        response["X-Robots-Tag"] = "noindex"  # a private link must not end up in a search engine
    return response


def _download_version(request: HttpRequest, public_id: str, filename: str) -> Prediction:
    """The fields that version a download, read once per request and without blobs."""
    if filename not in exports.SERVED:
        raise Http404("No such download.")
    if not hasattr(request, "_download_version"):
        request._download_version = selectors.prediction_version(public_id)
    return request._download_version


def _etag(request: HttpRequest, public_id: str, filename: str) -> str:
    if not hasattr(request, "_download_etag"):
        request._download_etag = download_cache.etag(
            _download_version(request, public_id, filename),
            filename,
            saved="download" in request.GET,
            full=request.GET.get("precision") == "full",
        )
    return request._download_etag


def _last_modified(request: HttpRequest, public_id: str, filename: str) -> datetime | None:
    """A listed prediction's last change, never before it was published (what a molecule new
    to the public shows); none for a private one, whose dates would tell when it was first
    predicted (its ETag still answers conditional requests)."""
    version = _download_version(request, public_id, filename)
    if not version.public or version.published_at is None:
        return None
    return max(version.updated_at, version.published_at)


def _cached_by_listing(view):
    """Cache-Control by the item: a listed prediction's files `public`; a private (link-only)
    one's `private`, so no shared cache keeps them; 304s included."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = view(request, *args, **kwargs)
        version = getattr(request, "_download_version", None)
        if version is not None and response.status_code in (200, 304):
            visibility = "public" if version.public else "private"
            patch_cache_control(response, max_age=3600, **{visibility: True})
        return response

    return wrapped


# Drawn on request at a cost of seconds of CPU each: throttled per visitor.
HEAVY_DOWNLOADS = ("report.png", "report.pdf", "bundle.zip")


def is_heavy(request: HttpRequest, public_id: str, filename: str) -> bool:
    """A report card, a bundle, or a captioned picture (`?download=1` of a plot or scatter)."""
    download = exports.SERVED.get(filename)
    captioned = download is not None and download.saved is not None and "download" in request.GET
    return filename in HEAVY_DOWNLOADS or captioned


@require_safe
@visitor_throttle(
    "heavy_download", "HEAVY_DOWNLOAD_RATE", "report, bundle and captioned downloads", when=is_heavy
)
@_cached_by_listing
@condition(etag_func=_etag, last_modified_func=_last_modified)
def download(request: HttpRequest, public_id: str, filename: str) -> HttpResponse:
    """One file of a prediction; conditional requests (304/412) never load its pictures, and
    what is drawn on request (a picture not stored, a report) is drawn once per version and
    kept in the render cache, never in the database."""
    download = exports.SERVED[filename]
    saved = "download" in request.GET  # a download names the molecule, model and date
    full = download.full if request.GET.get("precision") == "full" else None
    build = full or (download.saved if saved and download.saved else download.build)
    key = _etag(request, public_id, filename)
    body, stem = download_cache.rendered(key, public_id, filename, build)
    response = HttpResponse(body, content_type=download.content_type)
    inline = filename in exports.RENDITIONS or (filename in exports.PICTURES and not saved)
    response["Content-Disposition"] = content_disposition_header(not inline, f"{stem}-{filename}")
    if filename.endswith(".svg"):  # an SVG opened on its own must not run anything
        response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response


@require_safe
def gallery(request: HttpRequest) -> HttpResponse:
    terms = GalleryForm(request.GET).cleaned_or_defaults()
    search_error = note = ""
    try:
        page, note = selectors.gallery_page(
            query=terms["q"],
            mode=terms["mode"],
            threshold=terms["similarity"],
            featured_only=terms["featured"],
            verdict=terms["verdict"],
            sort=terms["sort"],
            per_page=terms["page_size"],
            number=request.GET.get("page"),
        )
    except search.SearchError as error:  # a bad SMARTS: say why, show nothing
        search_error = str(error)
        page = Paginator([], terms["page_size"]).get_page(1)
    # The form shows the search as applied: a bad value shows as the default used instead.
    context = {
        "form": GalleryForm(initial=terms),
        "page": page,
        "terms": terms,
        "search_error": search_error,
        "search_note": note,
    }
    return render(request, "predictions/gallery.html", context, status=400 if search_error else 200)


@require_safe
def random_example(request: HttpRequest) -> HttpResponse:
    prediction = selectors.random_example()
    if prediction is None:
        return render(request, "predictions/random_empty.html")
    return redirect(prediction)


@require_GET
def model_card(request: HttpRequest) -> HttpResponse:
    """The model page (`/model/`)."""
    return render(request, "predictions/model.html", services.model_card())


@require_GET
def training_molecule(request: HttpRequest, index: int) -> HttpResponse:
    """A drawing of a training molecule the model page shows as a neighbour."""
    try:
        svg = services.training_molecule_svg(index)
    except IndexError:
        raise Http404("No such training molecule.") from None
    response = HttpResponse(svg, content_type="image/svg+xml")
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    response["Cache-Control"] = "public, max-age=3600"
    return response
