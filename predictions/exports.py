"""Download formats for stored predictions: CSV, JSON, and a ZIP bundle of everything."""

from __future__ import annotations

import csv
import io
import json
import zipfile

from django.utils.text import slugify

from .domain import all_reasons, verdict_label
from .models import Prediction

BLOB_DOWNLOADS = {
    "molecule.png": ("molecule_png", "image/png"),
    "molecule.svg": ("molecule_svg", "image/svg+xml"),
    "plot.png": ("plot_png", "image/png"),
    "plot.svg": ("plot_svg", "image/svg+xml"),
}
TABLE_DOWNLOADS = {
    "values.csv": "text/csv; charset=utf-8",
    "values.json": "application/json",
}
ALL_DOWNLOADS = [*BLOB_DOWNLOADS, *TABLE_DOWNLOADS, "bundle.zip"]


def output_header(output: dict) -> str:
    """Column name for one output, units in brackets (as batch exports use too)."""
    return f"{output['label']} [{output['unit']}]" if output.get("unit") else output["label"]


def uncertainty_header(output: dict) -> str:
    """Column name for an output's uncertainty (one standard deviation, same unit)."""
    return f"{output_header(output)} uncertainty"


def trust_header(specs: list[dict]) -> list[str]:
    """Columns after the values: each output's uncertainty, then the domain verdict and reasons."""
    return [*(uncertainty_header(o) for o in specs), "domain_verdict", "domain_reasons"]


def trust_cells(specs: list[dict], outputs: list[dict], domain: dict | None) -> list[str]:
    """Cells for `trust_header`: blank uncertainty when the model gives none, blank verdict
    for predictions stored before the domain check existed."""
    sigmas = {o["label"]: o.get("uncertainty") for o in outputs}
    cells = [
        "" if sigmas.get(o["label"]) is None else repr(float(sigmas[o["label"]])) for o in specs
    ]
    verdict = verdict_label(domain.get("verdict")) if domain else ""
    return [*cells, verdict, "; ".join(all_reasons(domain))]


def download_stem(prediction: Prediction) -> str:
    """A filename stem built from the molecule: its title, else its formula."""
    return (
        slugify(prediction.title)[:60]
        or slugify(prediction.formula)
        or f"prediction-{prediction.pk}"
    )


def blob_bytes(prediction: Prediction, name: str) -> bytes:
    field, _ = BLOB_DOWNLOADS[name]
    value = getattr(prediction, field) or b""
    return value.encode() if isinstance(value, str) else bytes(value)


def values_csv(prediction: Prediction) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
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
    outputs = prediction.outputs
    writer.writerow(fixed + [output_header(o) for o in outputs] + trust_header(outputs))
    writer.writerow(
        [
            prediction.pk,
            prediction.title,
            prediction.input_text,
            prediction.canonical_smiles,
            prediction.formula,
            prediction.molecular_weight,
            prediction.model_name,
            prediction.model_version,
        ]
        + [repr(float(o["value"])) for o in outputs]
        + trust_cells(outputs, outputs, prediction.domain)
    )
    return buffer.getvalue()


def values_dict(prediction: Prediction) -> dict:
    return {
        "id": str(prediction.pk),
        "title": prediction.title,
        "input": prediction.input_text,
        "canonical_smiles": prediction.canonical_smiles,
        "formula": prediction.formula,
        "molecular_weight": prediction.molecular_weight,
        "standardisation_note": prediction.standardisation_note,
        "model": {
            "name": prediction.model_name,
            "version": prediction.model_version,
            "weights_sha256": prediction.model_hash,
        },
        # Predictions stored before uncertainties existed say so with null.
        "outputs": [{"uncertainty": None, **o} for o in prediction.outputs],
        # Applicability domain as judged when predicted; null before the check existed.
        "domain": prediction.domain or None,
        "created_at": prediction.created_at.isoformat() if prediction.created_at else None,
    }


def values_json(prediction: Prediction) -> str:
    return json.dumps(values_dict(prediction), indent=2, ensure_ascii=False)


def bundle_zip(prediction: Prediction) -> bytes:
    buffer = io.BytesIO()
    stem = download_stem(prediction)
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name in BLOB_DOWNLOADS:
            bundle.writestr(f"{stem}/{name}", blob_bytes(prediction, name))
        bundle.writestr(f"{stem}/values.csv", values_csv(prediction))
        bundle.writestr(f"{stem}/values.json", values_json(prediction))
    return buffer.getvalue()
