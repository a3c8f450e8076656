"""The model page (`/model/`) and drawings of the training molecules it shows as neighbours."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from predictions import services


@require_GET
def model_card(request: HttpRequest) -> HttpResponse:
    return render(request, "predictions/model.html", services.model_card())


@require_GET
def training_molecule(request: HttpRequest, index: int) -> HttpResponse:
    try:
        svg = services.training_molecule_svg(index)
    except IndexError:
        raise Http404("No such training molecule.") from None
    response = HttpResponse(svg, content_type="image/svg+xml")
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    response["Cache-Control"] = "public, max-age=3600"
    return response
