"""Predict-and-store workflows: the one path from a SMILES string to a stored Prediction.

form/admin/batch → parse (chemistry) → reuse or predict (inference) → draw (rendering) → store.
The same canonical SMILES with the same model weights is stored once and reused.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError
from django.utils import timezone

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
    # Listed before this request: the only case a page may say "predicted before", since a
    # private (batch or "keep private") molecule must not be revealed to have been seen.
    was_public: bool = False


def outputs_for(predictor: Predictor, values: list[float]) -> list[dict]:
    """Pair raw model values with the checkpoint's labels and units, as stored."""
    return [
        {
            "label": spec.label,
            "unit": spec.unit,
            "value": float(value),
            "kind": predictor.value_kind,
        }
        for spec, value in zip(predictor.outputs, values)
    ]


# The pictures a result page shows inline; the PNGs (gallery cards, downloads) are drawn on
# first request and kept, so a new prediction costs only what its page needs.
DRAWN_AT_CREATION = ("molecule_svg", "plot_svg")


def draw_blobs(
    *, mol, outputs: list[rendering.PlotOutput], kind: str, fields=Prediction.BLOB_FIELDS
) -> dict:
    """Draw the pictures named in `fields`, as model field values (plots on cached figures)."""
    drawers = {
        "molecule_png": lambda: rendering.molecule_png(mol),
        "molecule_svg": lambda: rendering.molecule_svg(mol),
        "plot_png": lambda: rendering.prediction_plot_png(outputs, kind=kind),
        "plot_svg": lambda: rendering.prediction_plot_svg(outputs, kind=kind),
    }
    return {name: drawers[name]() for name in fields}


def parse_for_model(text: str, predictor: Predictor) -> chemistry.ParsedMolecule:
    """Parse and check the molecule fits the model; raises PredictionRefused with the reason."""
    try:
        parsed = chemistry.parse_smiles(text, max_chars=settings.SMILES_MAX_CHARS)
        predictor.check_length(parsed.canonical_smiles)
    except ValueError as error:  # InvalidSmiles, SmilesTooLong
        raise PredictionRefused(str(error)) from error
    return parsed


def find_existing(canonical_smiles: str, predictor: Predictor) -> Prediction | None:
    """The stored prediction of this molecule by this model, without its pictures."""
    return (
        Prediction.objects.without_blobs()
        .filter(canonical_smiles=canonical_smiles, model_hash=predictor.weights_hash)
        .first()
    )


def build_prediction(
    *,
    parsed: chemistry.ParsedMolecule,
    predictor: Predictor,
    values: list[float] | None = None,
    draw: bool = True,
    **fields,
) -> Prediction:
    """An unsaved Prediction with its outputs (predicted unless `values` are given).

    `draw=True` draws the pictures the result page shows (DRAWN_AT_CREATION); the rest, or
    all of them with `draw=False` (batches), are drawn on first view.
    """
    if values is None:
        values = predictor.predict([parsed.canonical_smiles])[0]
    prediction = Prediction(
        input_text=parsed.input_text,
        canonical_smiles=parsed.canonical_smiles,
        formula=parsed.formula,
        molecular_weight=parsed.molecular_weight,
        standardisation_note=parsed.standardisation_note,
        model_name=predictor.name,
        model_version=predictor.version,
        model_hash=predictor.weights_hash,
        outputs=outputs_for(predictor, values),
        **fields,
    )
    if draw:
        outputs, kind = plot_inputs(prediction, predictor)
        blobs = draw_blobs(mol=parsed.mol, outputs=outputs, kind=kind, fields=DRAWN_AT_CREATION)
        for name, blob in blobs.items():
            setattr(prediction, name, blob)
    return prediction


def prediction_publish(*, prediction: Prediction) -> bool:
    """List a stored prediction (once); True if this call made it public."""
    now = timezone.now()
    changed = Prediction.objects.filter(pk=prediction.pk, public=False).update(
        public=True, published_at=now
    )
    if changed:
        prediction.public, prediction.published_at = True, now
    return bool(changed)


def _reuse(existing: Prediction, parsed, public: bool) -> PredictionResult:
    was_public = existing.public
    if public and not was_public:  # a listed molecule needs no write
        prediction_publish(prediction=existing)
    return PredictionResult(existing, False, parsed.standardisation_note, was_public)


def prediction_get_or_create(
    *,
    text: str,
    source: str = Source.FORM,
    title: str = "",
    featured: bool = False,
    public: bool = True,
) -> PredictionResult:
    """Return the stored prediction for `text`, predicting and storing it if it is new.

    `public=True` lists it (new or stored before); `public=False` ("keep private") leaves
    a stored molecule as it was and stores a new one unlisted, reachable by its link only.
    """
    predictor = get_predictor()
    parsed = parse_for_model(text, predictor)
    existing = find_existing(parsed.canonical_smiles, predictor)
    if existing is not None:
        return _reuse(existing, parsed, public)
    prediction = build_prediction(
        parsed=parsed,
        predictor=predictor,
        source=source,
        title=title,
        featured=featured,
        public=public,
    )
    try:
        prediction.save()
    except IntegrityError:
        # Another request stored the same molecule first: theirs is as good as ours.
        existing = find_existing(parsed.canonical_smiles, predictor)
        if existing is None:
            raise
        return _reuse(existing, parsed, public)
    return PredictionResult(prediction, True, parsed.standardisation_note)


def plot_inputs(
    prediction: Prediction, predictor: Predictor
) -> tuple[list[rendering.PlotOutput], str]:
    """Plot data for a prediction; training ranges only when this model made it."""
    specs = predictor.outputs if predictor.weights_hash == prediction.model_hash else []
    ranges = {spec.label: spec.range for spec in specs}
    outputs = [
        rendering.PlotOutput(
            label=o["label"], value=o["value"], unit=o.get("unit", ""), range=ranges.get(o["label"])
        )
        for o in prediction.outputs
    ]
    kind = prediction.outputs[0].get("kind", "regression") if prediction.outputs else "regression"
    return outputs, kind


def prediction_ensure_blobs(
    *, prediction: Prediction, fields: tuple[str, ...] = Prediction.BLOB_FIELDS
) -> Prediction:
    """Draw and store the pictures among `fields` not drawn yet; returns the same object.

    Batch predictions are stored without pictures, and others with only DRAWN_AT_CREATION:
    the rest are drawn on first view and kept.
    """
    missing = [name for name in fields if not getattr(prediction, name)]
    if not missing:
        return prediction
    needs_mol = {"molecule_png", "molecule_svg"} & set(missing)
    mol = (
        chemistry.parse_smiles(prediction.canonical_smiles, max_chars=10**6).mol
        if needs_mol
        else None
    )
    outputs, kind = plot_inputs(prediction, get_predictor())
    blobs = draw_blobs(mol=mol, outputs=outputs, kind=kind, fields=missing)
    Prediction.objects.filter(pk=prediction.pk).update(**blobs)  # keeps updated_at (and ETags)
    for name, value in blobs.items():
        setattr(prediction, name, value)
    return prediction
