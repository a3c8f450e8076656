"""Predict-and-store workflows: the one path from a SMILES string to a stored Prediction.

form/admin/batch → parse (chemistry) → reuse or predict (inference) → draw (rendering) → store.
The same canonical SMILES with the same model weights is stored once and reused.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError

from . import chemistry, rendering
from .inference import Predictor, get_predictor
from .models import Prediction, Source


class PredictionRefused(ValueError):
    """User input we will not predict for; `str()` says which input and why."""


@dataclass
class PredictionResult:
    prediction: Prediction
    created: bool
    standardisation_note: str = ""


def outputs_for(predictor: Predictor, values: list[float]) -> list[dict]:
    """Pair raw model values with the checkpoint's labels and units, as stored."""
    return [
        {"label": spec.label, "unit": spec.unit, "value": float(value), "kind": predictor.value_kind}
        for spec, value in zip(predictor.outputs, values)
    ]


def render_blobs(*, parsed: chemistry.ParsedMolecule, outputs: list[dict], predictor: Predictor) -> dict:
    """All four pictures for one molecule, as model field values."""
    plot_outputs = [
        rendering.PlotOutput(label=o["label"], value=o["value"], unit=o["unit"], range=spec.range)
        for o, spec in zip(outputs, predictor.outputs)
    ]
    plot_png, plot_svg = rendering.prediction_plot(plot_outputs, kind=predictor.value_kind)
    return {
        "molecule_png": rendering.molecule_png(parsed.mol),
        "molecule_svg": rendering.molecule_svg(parsed.mol),
        "plot_png": plot_png,
        "plot_svg": plot_svg,
    }


def parse_for_model(text: str, predictor: Predictor) -> chemistry.ParsedMolecule:
    """Parse and check the molecule fits the model; raises PredictionRefused with the reason."""
    try:
        parsed = chemistry.parse_smiles(text, max_chars=settings.SMILES_MAX_CHARS)
        predictor.check_length(parsed.canonical_smiles)
    except ValueError as error:  # InvalidSmiles, SmilesTooLong
        raise PredictionRefused(str(error)) from error
    return parsed


def find_existing(canonical_smiles: str, predictor: Predictor) -> Prediction | None:
    return Prediction.objects.filter(
        canonical_smiles=canonical_smiles, model_hash=predictor.weights_hash
    ).first()


def build_prediction(
    *, parsed: chemistry.ParsedMolecule, predictor: Predictor, values: list[float] | None = None, **fields
) -> Prediction:
    """An unsaved Prediction with outputs and pictures filled in (predicts if no values given)."""
    if values is None:
        values = predictor.predict([parsed.canonical_smiles])[0]
    outputs = outputs_for(predictor, values)
    return Prediction(
        input_text=parsed.input_text,
        canonical_smiles=parsed.canonical_smiles,
        formula=parsed.formula,
        molecular_weight=parsed.molecular_weight,
        standardisation_note=parsed.standardisation_note,
        model_name=predictor.name,
        model_version=predictor.version,
        model_hash=predictor.weights_hash,
        outputs=outputs,
        **render_blobs(parsed=parsed, outputs=outputs, predictor=predictor),
        **fields,
    )


def prediction_get_or_create(
    *, text: str, source: str = Source.FORM, title: str = "", featured: bool = False
) -> PredictionResult:
    """Return the stored prediction for `text`, predicting and storing it if it is new."""
    predictor = get_predictor()
    parsed = parse_for_model(text, predictor)
    existing = find_existing(parsed.canonical_smiles, predictor)
    if existing is not None:
        return PredictionResult(existing, False, parsed.standardisation_note)
    prediction = build_prediction(
        parsed=parsed, predictor=predictor, source=source, title=title, featured=featured
    )
    try:
        prediction.save()
    except IntegrityError:
        # Another request stored the same molecule first: theirs is as good as ours.
        existing = find_existing(parsed.canonical_smiles, predictor)
        if existing is None:
            raise
        return PredictionResult(existing, False, parsed.standardisation_note)
    return PredictionResult(prediction, True, parsed.standardisation_note)


def _plot_outputs(prediction: Prediction) -> tuple[list[rendering.PlotOutput], str]:
    """Plot data for a stored prediction; training ranges only when the current model made it."""
    predictor = get_predictor()
    specs = predictor.outputs if predictor.weights_hash == prediction.model_hash else []
    ranges = {spec.label: spec.range for spec in specs}
    outputs = [
        rendering.PlotOutput(label=o["label"], value=o["value"], unit=o.get("unit", ""),
                             range=ranges.get(o["label"]))
        for o in prediction.outputs
    ]
    kind = prediction.outputs[0].get("kind", "regression") if prediction.outputs else "regression"
    return outputs, kind


def prediction_ensure_blobs(*, prediction: Prediction, fields: tuple[str, ...] = Prediction.BLOB_FIELDS) -> Prediction:
    """Draw and store the pictures among `fields` not drawn yet; returns the same object.

    Batch predictions are stored without pictures (drawing is ~40 ms a molecule, inference
    a few ms), so they are drawn on first view and kept, like any other prediction's.
    """
    missing = [name for name in fields if not getattr(prediction, name)]
    if not missing:
        return prediction
    blobs: dict = {}
    if {"molecule_png", "molecule_svg"} & set(missing):
        mol = chemistry.parse_smiles(prediction.canonical_smiles, max_chars=10**6).mol
        if "molecule_png" in missing:
            blobs["molecule_png"] = rendering.molecule_png(mol)
        if "molecule_svg" in missing:
            blobs["molecule_svg"] = rendering.molecule_svg(mol)
    if "plot_svg" in missing:
        outputs, kind = _plot_outputs(prediction)
        blobs["plot_png"], blobs["plot_svg"] = rendering.prediction_plot(outputs, kind=kind)
    elif "plot_png" in missing:  # PNG only (ZIPs, thumbnails): the cheap blitted path
        outputs, kind = _plot_outputs(prediction)
        blobs["plot_png"] = rendering.prediction_plot_png(outputs, kind=kind)
    blobs = {name: value for name, value in blobs.items() if not getattr(prediction, name)}
    Prediction.objects.filter(pk=prediction.pk).update(**blobs)  # keeps updated_at (and ETags)
    for name, value in blobs.items():
        setattr(prediction, name, value)
    return prediction
