"""Download formats for stored predictions: CSV, JSON, and a ZIP bundle of everything."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from functools import partial
from typing import NamedTuple

from django.utils.text import slugify

from chemreport import salts, units
from molfiles.tables import (
    SafeCsvWriter,
    output_header,
    profile_cells,
    profile_header,
    trust_cells,
    trust_header,
)
from predictions.downloads import report
from predictions.models import Prediction
from predictions.serving import reference


class Download(NamedTuple):
    """One downloadable file: how to build it, its type, and the picture blobs it reads."""

    build: Callable
    content_type: str
    blobs: tuple[str, ...] = ()
    # What a download (not the page's inline picture) serves: labelled with molecule, model, date.
    saved: Callable | None = None
    full: Callable | None = None  # the full-precision build (`?precision=full`), if it differs


def parent_note(prediction: Prediction) -> str:
    """What a salt's values are for (salts.parent_note), from the stored note."""
    return salts.parent_note(
        prediction.standardisation_note, prediction.formula, prediction.outputs
    )


def download_stem(prediction: Prediction) -> str:
    """A filename stem built from the molecule: its title, else its formula."""
    return (
        slugify(prediction.title)[:60]
        or slugify(prediction.formula)
        or f"prediction-{prediction.public_id}"
    )


def _blob(field: str) -> Callable[[Prediction], bytes]:
    def build(prediction: Prediction) -> bytes:
        value = getattr(prediction, field) or b""
        return value.encode() if isinstance(value, str) else bytes(value)

    return build


def values_csv(prediction: Prediction, *, full: bool = False) -> str:
    """One row: values rounded to what the model can back (units.py) unless `full`."""
    buffer = io.StringIO()
    writer = SafeCsvWriter(buffer)
    fixed = [
        "id",
        "title",
        "input",
        "canonical_smiles",
        "formula",
        "molecular_weight",
        "model_name",
        "model_version",
    ]
    outputs = prediction.outputs if full else units.rounded_outputs(prediction.outputs)
    writer.writerow(
        fixed
        + [output_header(o) for o in outputs]
        + trust_header(outputs)
        + reference.percentile_header(outputs)
        + profile_header()
    )
    writer.writerow(
        [
            prediction.public_id,
            prediction.title,
            prediction.input_text,
            prediction.canonical_smiles,
            prediction.formula,
            prediction.molecular_weight,
            prediction.model_name,
            prediction.model_version,
        ]
        + [float(o["value"]) for o in outputs]
        + trust_cells(outputs, outputs, prediction.domain, parent_note(prediction))
        + reference.percentile_cells(prediction.model_hash, outputs, prediction.outputs)
        + profile_cells(prediction.profile, full=full)
    )
    return buffer.getvalue()


def values_dict(prediction: Prediction) -> dict:
    return {
        "id": prediction.public_id,
        "title": prediction.title,
        "input": prediction.input_text,
        "canonical_smiles": prediction.canonical_smiles,
        "formula": prediction.formula,
        "molecular_weight": prediction.molecular_weight,
        "standardisation_note": prediction.standardisation_note,
        # A salt or mixture: the values are for the parent compound, and why that matters.
        "parent_note": parent_note(prediction),
        # ... and the measured figures for salts of its kind as fields (the API's `salt`).
        "salt": salts.estimate_for(prediction.standardisation_note, prediction.outputs),
        "uncertainty_meaning": units.UNCERTAINTY_HELP,
        "model": {
            "name": prediction.model_name,
            "version": prediction.model_version,
            "weights_sha256": prediction.model_hash,
        },
        # Predictions stored before uncertainties existed say so with null.
        "outputs": [{"uncertainty": None, **o} for o in prediction.outputs],
        # Each output's percentile among approved drugs, and where they come from; null
        # without a reference made by these weights.
        "approved_drugs": reference.json_context(prediction.model_hash, prediction.outputs),
        # Applicability domain as judged when predicted; null before the check existed.
        "domain": prediction.domain or None,
        # Exact RDKit profile (chemreport/profile.py); alert atoms index canonical_smiles.
        "profile": prediction.profile or None,
        # When it was listed (what a molecule new to the public has); null for a private one:
        # nothing tells when a molecule known only privately was first predicted.
        "created_at": listed_since(prediction),
    }


def listed_since(prediction: Prediction) -> str | None:
    """A listed prediction's date (when it was published), as ISO 8601; None if private."""
    if not prediction.public or prediction.published_at is None:
        return None
    return prediction.published_at.isoformat()


def values_json(prediction: Prediction) -> str:
    return json.dumps(values_dict(prediction), indent=2, ensure_ascii=False)


def bundle_zip(prediction: Prediction) -> bytes:
    buffer = io.BytesIO()
    stem = download_stem(prediction)
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, download in DOWNLOADS.items():
            if name != "bundle.zip":
                bundle.writestr(f"{stem}/{name}", (download.saved or download.build)(prediction))
    return buffer.getvalue()


PICTURES = {
    "molecule.png": Download(_blob("molecule_png"), "image/png", ("molecule_png",)),
    "molecule.svg": Download(_blob("molecule_svg"), "image/svg+xml", ("molecule_svg",)),
    "plot.png": Download(_blob("plot_png"), "image/png", ("plot_png",), report.saved_plot_png),
    "plot.svg": Download(_blob("plot_svg"), "image/svg+xml", ("plot_svg",), report.saved_plot_svg),
    # Drawn on request (nothing stored): the molecule among the approved drugs, two outputs.
    "drugs.png": Download(report.scatter_png, "image/png", (), report.saved_scatter_png),
    "drugs.svg": Download(report.scatter_svg, "image/svg+xml", (), report.saved_scatter_svg),
    "alerts.svg": Download(report.alerts_svg, "image/svg+xml"),
}
# Every file a prediction offers, by name (the URL's last part), in the page's order.
DOWNLOADS = {
    **PICTURES,
    "values.csv": Download(
        values_csv, "text/csv; charset=utf-8", full=partial(values_csv, full=True)
    ),
    "values.json": Download(values_json, "application/json"),
    "report.png": Download(report.report_png, "image/png", ("molecule_png",)),
    "report.pdf": Download(report.report_pdf, "application/pdf", ("molecule_png",)),
    "bundle.zip": Download(bundle_zip, "application/zip", Prediction.BLOB_FIELDS),
}
# Served but not listed: the plot drawn narrower for phones (the page's <picture> picks it).
RENDITIONS = {"plot-phone.svg": Download(report.phone_plot_svg, "image/svg+xml")}
SERVED = {**DOWNLOADS, **RENDITIONS}
