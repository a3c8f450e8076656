"""Self-describing pictures of one prediction: labelled plot downloads, the phone plot, the
approved-drug scatter and the one-page report card (PNG and PDF), drawn by chemreport.report.

Drawn on request from the stored prediction (nothing here is stored; HTTP caching keeps them).
A downloaded picture names the molecule, the model and a date: the publication date of a
listed molecule, else the day it was downloaded (a private molecule's own date would tell
that it was predicted before).
"""

from __future__ import annotations

import textwrap
from datetime import date
from typing import TYPE_CHECKING

from django.utils import timezone
from rdkit import Chem

from chemcore.domain import all_reasons, verdict_label
from chemreport import rendering, salts, units
from chemreport import report as drawing
from chemreport.profile import alert_atoms
from chemreport.report import SITE, cut, save
from predictions.models import Prediction
from predictions.services import plot_inputs
from predictions.serving import get_model, reference

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def molecule_name(prediction: Prediction, width: int = 90) -> str:
    return (
        textwrap.shorten(prediction.title, width)
        if prediction.title
        else cut(prediction.canonical_smiles, width)
    )


def dated(prediction: Prediction, today: date | None = None) -> str:
    if prediction.public and prediction.published_at:
        return f"published {prediction.published_at:%Y-%m-%d}"
    return f"downloaded {(today or timezone.now().date()):%Y-%m-%d}"


def caption(prediction: Prediction) -> tuple[str, ...]:
    """What a downloaded picture says about itself: molecule; model; date."""
    model = f"{prediction.model_name} {prediction.model_version}".strip()
    return (
        molecule_name(prediction),
        f"{cut(model, 90)} (weights {prediction.model_hash[:12]})",
        f"{dated(prediction)} · {SITE}",
    )


def _plot_data(prediction: Prediction):
    return plot_inputs(prediction, get_model())


def saved_plot_png(prediction: Prediction) -> bytes:
    outputs, kind = _plot_data(prediction)
    return rendering.labelled_plot(outputs, kind=kind, caption=caption(prediction), fmt="png")


def saved_plot_svg(prediction: Prediction) -> str:
    outputs, kind = _plot_data(prediction)
    return rendering.labelled_plot(outputs, kind=kind, caption=caption(prediction), fmt="svg")


def phone_plot_svg(prediction: Prediction) -> str:
    outputs, kind = _plot_data(prediction)
    return rendering.phone_plot_svg(outputs, kind=kind)


# --- The approved-drug scatter -----------------------------------------------------------------


def _scatter_axes(prediction: Prediction) -> tuple[dict, dict] | None:
    axes = reference.scatter_axes(prediction.outputs)
    return None if axes is None else tuple(prediction.outputs[i] for i in axes)


def scatter_figure(prediction: Prediction, captioned: bool) -> Figure:
    return drawing.scatter_figure(
        _scatter_axes(prediction),
        reference.for_model(prediction.model_hash),
        caption(prediction) if captioned else (),
    )


def scatter_svg(prediction: Prediction) -> str:
    """The page's scatter (kept figures: chemreport.report.scatter_svg)."""
    return drawing.scatter_svg(
        _scatter_axes(prediction), reference.for_model(prediction.model_hash)
    )


def saved_scatter_svg(prediction: Prediction) -> str:
    return save(scatter_figure(prediction, captioned=True), "svg", caption(prediction))


def scatter_png(prediction: Prediction) -> bytes:
    return save(scatter_figure(prediction, captioned=False), "png")


def saved_scatter_png(prediction: Prediction) -> bytes:
    return save(scatter_figure(prediction, captioned=True), "png", caption(prediction))


# --- The one-page report card ------------------------------------------------------------------


def _value_rows(prediction: Prediction) -> list[list[str]]:
    percents = reference.percentiles(prediction.model_hash, prediction.outputs)
    judged = {o["label"]: o for o in (prediction.domain or {}).get("outputs", [])}
    rows = []
    for output, percent in zip(prediction.outputs, percents):
        value = units.format_value(output["value"], output)
        if output.get("uncertainty") is not None:
            value += f" ± {units.format_value(output['uncertainty'], output)}"
        verdict = judged.get(output["label"], {}).get("verdict")
        rows.append(
            [
                output["label"],
                value,
                output.get("unit") or "—",
                "—" if percent is None else reference.ordinal(percent),
                verdict_label(verdict) if output["label"] in judged else "not assessed",
            ]
        )
    return rows


def report_title(prediction: Prediction) -> str:
    """The card's heading, short as the result page's (its title, a short SMILES, or the
    formula; the full SMILES is printed below it)."""
    from predictions.templatetags.readable import heading

    return heading(prediction)


def card(prediction: Prediction) -> drawing.Card:
    """What the report card prints of this prediction."""
    plots, kind = _plot_data(prediction)
    profile = getattr(prediction, "profile", None)
    return drawing.Card(
        title=report_title(prediction),
        facts=f"{prediction.formula} · {prediction.molecular_weight or 0:.2f} g/mol",
        smiles=prediction.canonical_smiles,
        parent_note=salts.parent_note(
            prediction.standardisation_note, prediction.formula, prediction.outputs
        ),
        molecule_png=bytes(prediction.molecule_png),
        verdict=(prediction.domain or {}).get("verdict"),
        reasons=all_reasons(prediction.domain),
        rows=_value_rows(prediction),
        plots=plots,
        kind=kind,
        profile=profile if isinstance(profile, dict) else None,
        caption=caption(prediction),
    )


def report_figure(prediction: Prediction) -> Figure:
    return drawing.card_figure(card(prediction))


def report_png(prediction: Prediction) -> bytes:
    return save(report_figure(prediction), "png", caption(prediction))


def report_pdf(prediction: Prediction) -> bytes:
    return save(report_figure(prediction), "pdf", caption(prediction))


def alerts_svg(prediction: Prediction) -> str:
    """The structure with every structural alert's atoms highlighted (plain when there are none).

    Drawn from the canonical SMILES, whose atom order the stored alert indices refer to.
    """
    mol = Chem.MolFromSmiles(prediction.canonical_smiles)
    return rendering.molecule_svg_highlighted(mol, alert_atoms(prediction.profile))
