"""Predict-and-store workflows: the one path from a SMILES string to a stored Prediction.

form/admin/batch → parse (chemistry) → reuse or predict (inference) → draw (rendering) → store.
The same canonical SMILES with the same model weights is stored once and reused.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone
from rdkit import Chem

from chemcore import chemistry
from chemcore.model import Model, MoleculePrediction, Refused
from chemreport import matching, profile, rendering, salts
from predictions import selectors
from predictions.models import Prediction, Source
from predictions.serving import get_model, reference
from predictions.signals import profiles_stored, verdict_stored

log = logging.getLogger(__name__)


# User input we will not predict for; `str()` says which input and why.
PredictionRefused = Refused


@dataclass
class PredictionResult:
    prediction: Prediction
    created: bool
    standardisation_note: str = ""
    # Listed before this request: the only case a page may say "predicted before", since a
    # private (batch or "keep private") molecule must not be revealed to have been seen.
    was_public: bool = False


def outputs_for(model: Model, result: MoleculePrediction) -> list[dict]:
    """The final outputs as stored: label, unit, value, σ (None without), and what the page
    shows beside them (decimals from the test error, group, unit of 10**value, favourable
    direction), so a stored prediction is shown with what was stored."""
    from chemreport import units

    out = []
    for spec, predicted in zip(model.outputs, result.outputs, strict=True):
        stored = {
            "label": spec.label,
            "unit": spec.unit,
            "value": predicted.value,
            "uncertainty": predicted.uncertainty,
            "kind": model.value_kind,
            "decimals": units.decimals_for_rmse(
                (model.test_metrics.get(spec.label) or {}).get("rmse")
            ),
        }
        for key in ("group", "linear_unit", "favourable"):  # older models give none
            if getattr(spec, key):
                stored[key] = getattr(spec, key)
        out.append(stored)
    return out


def domain_backfill(*, redo: bool = False) -> tuple[int, int]:
    """Judge stored predictions of the loaded model that have no verdict yet (all if `redo`),
    from their stored values and uncertainties (no inference), and copy the verdict to their
    batch rows. Returns (judged, skipped: made by another model, which cannot be judged here).
    """
    model = get_model()
    todo = Prediction.objects.filter(model_hash=model.weights_hash)
    if not redo:
        todo = todo.filter(verdict="")
    judged = 0
    for prediction in todo.only("pk", "canonical_smiles", "outputs", "domain").iterator():
        mol = chemistry.parse_smiles(prediction.canonical_smiles, max_chars=10**6).mol
        values = [o["value"] for o in prediction.outputs]
        sigmas = [o.get("uncertainty") for o in prediction.outputs]
        result = model.judge(mol, values, sigmas)
        # What the stored value was blended from (read-across) needs the model's own value,
        # which only inference gives: keep the record made when it was predicted.
        before = (prediction.domain or {}).get("outputs") or []
        for output, old in zip(result["outputs"], before):
            if old.get("read_across"):
                output["read_across"] = old["read_across"]
        fields = {"domain": result, "verdict": result["verdict"]}
        Prediction.objects.filter(pk=prediction.pk).update(**fields)  # keeps updated_at
        verdict_stored.send(sender=Prediction, pk=prediction.pk, fields=fields)  # batch rows
        judged += 1
    skipped = Prediction.objects.exclude(model_hash=model.weights_hash).count()
    return judged, skipped


# The nearest measured molecules of the latest molecules shown, per process: (model hash,
# canonical SMILES, k) -> what nearest_measured gives. A new prediction puts its own here (its
# similarities are computed anyway), so the result page it redirects to reuses them.
_NEAREST: OrderedDict[tuple[str, str, int], list[dict]] = OrderedDict()
_NEAREST_SIZE = 512
NEAREST_SHOWN = 5  # on a result page and in the API's prediction detail
_nearest_lock = threading.Lock()


def _neighbour_dicts(model: Model, neighbours) -> list[dict]:
    return [
        {
            "index": n.index,
            "smiles": n.smiles,
            "similarity": n.similarity,
            "measured": [
                {"label": spec.label, "unit": spec.unit, "value": value}
                for spec, value in zip(model.outputs, n.values)
            ],
        }
        for n in neighbours
    ]


def _remember_nearest(key: tuple[str, str, int], found: list[dict]) -> None:
    with _nearest_lock:
        _NEAREST[key] = found
        _NEAREST.move_to_end(key)
        while len(_NEAREST) > _NEAREST_SIZE:
            _NEAREST.popitem(last=False)


def nearest_measured(prediction: Prediction, k: int = NEAREST_SHOWN) -> list[dict]:
    """The k training molecules most like this one, with their measured values.

    Only for the loaded model's own predictions: another model was trained on other data.
    Kept per process for the latest molecules (a copy is returned).
    """
    model = get_model()
    if prediction.model_hash != model.weights_hash:
        return []
    key = (model.weights_hash, prediction.canonical_smiles, k)
    found = _NEAREST.get(key)
    if found is None:
        mol = chemistry.parse_smiles(prediction.canonical_smiles, max_chars=10**6).mol
        found = _neighbour_dicts(model, model.nearest(mol, k))
    _remember_nearest(key, found)
    return copy.deepcopy(found)


def training_molecule_svg(index: int) -> str:
    """A small drawing of the loaded model's training molecule `index`; IndexError if none."""
    training = get_model().training
    if training is None or not 0 <= index < len(training.smiles):
        raise IndexError(index)
    mol = chemistry.parse_smiles(training.smiles[index], max_chars=10**6).mol
    return rendering.molecule_svg(mol, size=(160, 120))


def model_card() -> dict:
    """What the model page shows: the card (README.md as HTML), metrics, ranges, thresholds."""
    model = get_model()
    card = model.directory / "README.md"
    text = card.read_text(encoding="utf-8") if card.exists() else ""
    if text.startswith("---"):  # Hugging Face front matter, not for people
        text = text.split("---", 2)[-1]
    training = model.training
    counts = training.measured_counts() if training else [None] * len(model.outputs)
    outputs = [
        {
            "label": spec.label,
            "unit": spec.unit,
            "range": spec.range,
            "metrics": model.test_metrics.get(spec.label) or {},
            "measured": count,
            **blend_weights(model, index),
            **verdict_rules(model, index),
        }
        for index, (spec, count) in enumerate(zip(model.outputs, counts))
    ]
    return {
        "model": model,
        "outputs": outputs,
        "thresholds": model.domain.thresholds,
        "training_size": len(training.smiles) if training else None,
        "card_html": _card_html(text),
        "salts": salts.page_table(f"{model.version} ({model.weights_hash[:12]})"),
    }


def verdict_rules(model: Model, index: int) -> dict:
    """Output `index`'s own verdict rules (chemcore.domain): the typical uncertainty σ is
    measured in and the similarity below which it is "use with care" (None: no such cut)."""
    rules = model.domain.outputs[index]
    cut = rules.similarity_cut(model.domain.thresholds.similarity_care)
    return {"typical_uncertainty": rules.typical_uncertainty, "similarity_care": cut or None}


def blend_weights(model: Model, index: int) -> dict:
    """How output `index`'s value is made beyond the member mean: the descriptor model's
    weight (beta), the shares of the descriptor and graph networks in it, and the read-across
    weight and power, None where not used."""
    betas, across = model.network.descriptor_weight, model.network.read_across
    beta = betas[index] if index < len(betas) and betas[index] else None
    networks = model.network.mlp_weight
    network = networks[index] if beta and index < len(networks) and networks[index] else None
    graphs = model.network.graph_weight
    graph = graphs[index] if beta and index < len(graphs) and graphs[index] else None
    weight, power = across[index] if index < len(across) else (0.0, 1.0)
    return {
        "descriptor_weight": beta,
        "network_weight": network,
        "graph_weight": graph,
        "read_across": {"weight": weight, "power": power} if weight else None,
    }


def _card_html(text: str) -> str:
    """Markdown to HTML; raw HTML is escaped (the card is data, not page code), and headings
    move two levels down to sit under the page's own h1/h2."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    tokens = md.parse(text)
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1]) + 2, 6)}"
    return md.renderer.render(tokens, md.options, {})


# The pictures a result page shows (by <img>): drawn and stored when a curator adds a molecule.
# A new form, API or batch prediction draws none, so the POST answers without matplotlib or
# RDKit drawing: a picture not stored is drawn on request (missing_pictures) and kept in the
# render cache; only the batch worker's picture pass and ZIP store them.
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


def parse_for_model(text: str, model: Model) -> chemistry.ParsedMolecule:
    """Parse and check the molecule fits the model; raises PredictionRefused with the reason."""
    return model.preprocess(text, max_chars=settings.SMILES_MAX_CHARS)


# The latest texts read by the form and the API, per process: (model hash, text) -> what
# parse_for_model gave. A molecule asked for again (the stored case) skips RDKit's parse and
# standardisation and the tokenizer's checks (~1.2 ms); refusals are not kept.
_PARSED: OrderedDict[tuple[str, str, int], chemistry.ParsedMolecule] = OrderedDict()
_PARSED_SIZE = 256
_parsed_lock = threading.Lock()


def parse_remembered(text: str, model: Model) -> chemistry.ParsedMolecule:
    """`parse_for_model`, kept for the latest texts; each caller gets its own copy (its own
    RDKit molecule too)."""
    key = (model.weights_hash, text, settings.SMILES_MAX_CHARS)
    with _parsed_lock:
        found = _PARSED.get(key)
        if found is not None:
            _PARSED.move_to_end(key)
    if found is None:
        found = parse_for_model(text, model)
        with _parsed_lock:
            _PARSED[key] = found
            while len(_PARSED) > _PARSED_SIZE:
                _PARSED.popitem(last=False)
    return dataclasses.replace(
        found, mol=Chem.Mol(found.mol), removed_fragments=list(found.removed_fragments)
    )


def find_existing(canonical_smiles: str, model: Model) -> Prediction | None:
    """The stored prediction of this molecule by this model, without its pictures."""
    return (
        Prediction.objects.without_blobs()
        .filter(canonical_smiles=canonical_smiles, model_hash=model.weights_hash)
        .first()
    )


def build_prediction(
    *,
    parsed: chemistry.ParsedMolecule,
    model: Model,
    result: MoleculePrediction | None = None,
    draw: bool = True,
    profiled: bool = True,
    **fields,
) -> Prediction:
    """An unsaved Prediction with its outputs (predicted unless `result` is given).

    `draw=True` draws the pictures the result page shows (DRAWN_AT_CREATION); the rest, or
    all of them with `draw=False` (form, API, batches), are drawn on first view.
    `profiled=False` (batches) leaves the RDKit profile pending, for the batch's second pass.
    """
    if result is None:
        # The nearest measured molecules come from the similarities computed anyway: kept for
        # the result page (nearest_measured), which would compute them again.
        # Kept only where the page's molecule (read again from the canonical SMILES) has the
        # same fingerprint as the one predicted, so the page shows what it always showed.
        result = model.run([parsed], neighbours=NEAREST_SHOWN)[0]
        again = chemistry.parse_smiles(parsed.canonical_smiles, max_chars=10**6).mol
        if chemistry.fingerprint(again) == chemistry.fingerprint(parsed.mol):
            _remember_nearest(
                (model.weights_hash, parsed.canonical_smiles, NEAREST_SHOWN),
                _neighbour_dicts(model, result.neighbours),
            )
    prediction = Prediction(
        input_text=parsed.input_text,
        canonical_smiles=parsed.canonical_smiles,
        formula=parsed.formula,
        molecular_weight=parsed.molecular_weight,
        standardisation_note=parsed.standardisation_note,
        model_name=model.name,
        model_version=model.version,
        model_hash=model.weights_hash,
        outputs=outputs_for(model, result),
        domain=result.domain,
        verdict=result.verdict,
        profile=profile.profile_for_smiles(parsed.canonical_smiles) if profiled else {},
        profile_pending=not profiled,
        **matching.fingerprint_fields(parsed.mol),
        **fields,
    )
    if draw:
        outputs, kind = plot_inputs(prediction, model)
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


def _as_new(existing: Prediction, parsed, model: Model, public: bool) -> PredictionResult:
    """A stored molecule nobody listed (a batch's, a "keep private" one) answered as a new one.

    Its existence is private: the caller gets what a never-seen molecule gets (`created`, the
    timing of the model's run, and no date: a private prediction shows none), so the model runs
    again (the work a new one costs: inference, domain check, profile, fingerprints) and the
    result is thrown away; the stored row (the same weights, the same values) is what the link
    shows. Nothing is written unless the caller lists it.
    """
    repredict(parsed, model)
    if public:
        prediction_publish(prediction=existing)
    # The form's page shows the stored row; the view repeats the caller's note where it differs.
    return PredictionResult(existing, True, parsed.standardisation_note, False)


def _as_asked(prediction: Prediction, parsed) -> None:
    """An API answer describes the caller's own input, as a new row would (in memory only):
    the stored note is whoever stored it first's, and would tell how they wrote the molecule."""
    prediction.input_text = parsed.input_text
    prediction.standardisation_note = parsed.standardisation_note


def repredict(parsed, model: Model, result: MoleculePrediction | None = None) -> Prediction:
    """The unsaved Prediction a new molecule would get (`build_prediction` without pictures)."""
    return build_prediction(parsed=parsed, model=model, result=result, draw=False)


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
    model = get_model()
    parsed = parse_remembered(text, model)
    existing = find_existing(parsed.canonical_smiles, model)
    if existing is not None:
        if not existing.public:  # known only privately: as new for whoever asks (see _as_new)
            return _as_new(existing, parsed, model, public)
        return _reuse(existing, parsed, public)
    prediction = build_prediction(
        parsed=parsed,
        model=model,
        draw=False,  # the result page's <img> requests draw them (missing_pictures)
        source=source,
        title=title,
        featured=featured,
        public=public,
    )
    try:
        prediction.save()
    except IntegrityError:
        # Another request stored the same molecule first: theirs is as good as ours.
        existing = find_existing(parsed.canonical_smiles, model)
        if existing is None:
            raise
        return _reuse(existing, parsed, public)
    return PredictionResult(prediction, True, parsed.standardisation_note)


def plot_inputs(prediction: Prediction, model: Model) -> tuple[list[rendering.PlotOutput], str]:
    """Plot data for a prediction; training ranges only when this model made it."""
    specs = model.outputs if model.weights_hash == prediction.model_hash else []
    ranges = {spec.label: spec.range for spec in specs}
    drugs = reference.densities(prediction.model_hash, [o["label"] for o in prediction.outputs])
    outputs = [
        rendering.PlotOutput(
            label=o["label"],
            value=o["value"],
            unit=o.get("unit", ""),
            range=ranges.get(o["label"]),
            uncertainty=o.get("uncertainty"),
            drugs=density,
        )
        for o, density in zip(prediction.outputs, drugs)
    ]
    kind = prediction.outputs[0].get("kind", "regression") if prediction.outputs else "regression"
    return outputs, kind


def missing_pictures(prediction: Prediction, fields: tuple[str, ...]) -> dict:
    """The pictures among `fields` that `prediction` has not stored, drawn now and stored
    nowhere (a download GET serves them through the render cache)."""
    missing = [name for name in fields if not getattr(prediction, name)]
    if not missing:
        return {}
    needs_mol = {"molecule_png", "molecule_svg"} & set(missing)
    mol = (
        chemistry.parse_smiles(prediction.canonical_smiles, max_chars=10**6).mol
        if needs_mol
        else None
    )
    outputs, kind = plot_inputs(prediction, get_model())
    return draw_blobs(mol=mol, outputs=outputs, kind=kind, fields=missing)


def prediction_ensure_blobs(
    *, prediction: Prediction, fields: tuple[str, ...] = Prediction.BLOB_FIELDS
) -> Prediction:
    """Draw and store the pictures among `fields` not drawn yet; returns the same object.

    The batch worker's picture pass and ZIP call it. Keeping them is only a saving: if the
    write fails (a locked database) the pictures are still returned, and drawn again later.
    """
    blobs = missing_pictures(prediction, fields)
    if blobs:
        try:
            Prediction.objects.filter(pk=prediction.pk).update(**blobs)  # keeps updated_at
        except DatabaseError as error:
            log.warning("Pictures of %s drawn but not kept: %s", prediction.public_id, error)
    for name, value in blobs.items():
        setattr(prediction, name, value)
    return prediction


def predictions_get_or_create_many(
    *, texts: list[str], source: str = Source.API, public: bool = False
) -> list[PredictionResult | PredictionRefused]:
    """`prediction_get_or_create` for a list, in input order: one forward pass for the new ones.

    Each item is a PredictionResult or the PredictionRefused saying why that input was refused.
    Pictures are left to be drawn on first view (as for batches), so a call costs inference
    and storage only. A molecule given twice is predicted once.
    """
    model = get_model()
    outcomes: list = []
    for text in texts:
        try:
            outcomes.append(parse_for_model(text, model))
        except PredictionRefused as refusal:
            outcomes.append(refusal)
    parsed = {o.canonical_smiles: o for o in reversed(outcomes) if not isinstance(o, Exception)}
    stored = {
        p.canonical_smiles: p
        for p in Prediction.objects.without_blobs().filter(
            model_hash=model.weights_hash, canonical_smiles__in=list(parsed)
        )
    }
    was_public = {smiles: p.public for smiles, p in stored.items()}
    # A molecule stored but never listed is as new to the caller (see _as_new): predicted again
    # in the same forward pass, thrown away, answered `created` with the stored row.
    unlisted = [smiles for smiles, p in stored.items() if not p.public]
    new = [smiles for smiles in parsed if smiles not in stored]
    again = new + unlisted
    results_all = (
        model.run([parsed[s] for s in again], batch_size=settings.BATCH_INFERENCE_SIZE)
        if again
        else []
    )
    results_new = results_all[: len(new)]
    for smiles, result in zip(unlisted, results_all[len(new) :]):
        repredict(parsed[smiles], model, result)
        _as_asked(stored[smiles], parsed[smiles])
    created = set(unlisted)
    for smiles, result in zip(new, results_new):
        prediction = build_prediction(
            parsed=parsed[smiles],
            model=model,
            result=result,
            draw=False,
            source=source,
            public=public,
        )
        try:
            prediction.save()
            created.add(smiles)
        except IntegrityError:  # stored meanwhile by another request: use theirs
            prediction = find_existing(smiles, model)
            if prediction is None:
                raise
            was_public[smiles] = prediction.public
        stored[smiles] = prediction
    results: list[PredictionResult | PredictionRefused] = []
    for outcome in outcomes:
        if isinstance(outcome, PredictionRefused):
            results.append(outcome)
            continue
        prediction = stored[outcome.canonical_smiles]
        if public and not prediction.public:  # a listed molecule needs no write
            prediction_publish(prediction=prediction)
        results.append(
            PredictionResult(
                prediction,
                outcome.canonical_smiles in created,
                outcome.standardisation_note,
                was_public.get(outcome.canonical_smiles, False),
            )
        )
    return results


# --- Storing RDKit profiles (read: selectors.profiles_for) -------------------------------------
# Each store is conditional (`profile_pending=True`): filling is idempotent, a race harmless
# (two workers store the same value), no transaction relied on.


def one_commit():
    """One commit for a page's updates where the database has transactions (SQLite: ~2 ms a
    molecule less); only for speed, correctness never depends on it (each update stands
    alone, and MongoDB may run them one by one)."""
    if connection.features.supports_transactions:
        return transaction.atomic()
    return contextlib.nullcontext()


def profiles_store(values: dict) -> None:
    """Store {prediction pk: profile} on the predictions still pending, then on every batch row
    still pending that copied them (predictions.signals.profiles_stored).

    One `bulk_update` (an UPDATE … CASE per database batch, on the pending ones only) instead
    of an UPDATE a molecule: a batch's worker stored its profiles at ~1.3 ms a molecule."""
    now = timezone.now()  # moves: a download's ETag must not keep a file made before the profile
    changed = [
        Prediction(pk=pk, profile=value, profile_pending=False, updated_at=now)
        for pk, value in values.items()
    ]
    with one_commit():
        Prediction.objects.filter(profile_pending=True).bulk_update(
            changed, ["profile", "profile_pending", "updated_at"]
        )
    profiles_stored.send(sender=Prediction, profiles=values)


def profiles_fill(pending: dict) -> dict:
    """Store the profiles of these predictions ({pk: canonical SMILES}) and of every batch row
    that copied them; returns {pk: profile}."""
    values = selectors.profiles_for(pending.values())
    filled = {pk: values[smiles] for pk, smiles in pending.items()}
    profiles_store(filled)
    return filled
