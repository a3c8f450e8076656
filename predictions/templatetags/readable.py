"""Readable numbers on the pages: decimals the model can back, solubility units, RDKit profile."""

from __future__ import annotations

from django import template

from chemreport import profile, salts, units

register = template.Library()


@register.filter
def output_value(value: float | None, output: str | dict) -> str:
    """A predicted value (or its uncertainty) to the decimals its output's test RMSE supports:
    `output` is the stored output dict (its stored decimals) or a label."""
    return units.format_value(value, output)


@register.simple_tag
def uncertainty_help() -> str:
    """What the number after "±" is (units.UNCERTAINTY_HELP): for a title and a legend."""
    return units.UNCERTAINTY_HELP


@register.filter
def alert_count(stored: dict | None) -> int:
    return len((stored or {}).get("alerts") or [])


@register.inclusion_tag("predictions/_solubility.html")
def solubility_panel(prediction) -> dict:
    """logS outputs in µM and µg/mL with their bands, and the bands' thresholds."""
    rows = []
    for output in prediction.outputs:
        if units.is_logs(output):
            found = units.solubility(output["value"], prediction.molecular_weight)
            rows.append(
                {
                    "output": output,
                    "solubility": found,
                    "micromolar": units.significant(found.micromolar),
                    "micrograms_per_ml": (
                        units.significant(found.micrograms_per_ml)
                        if found.micrograms_per_ml is not None
                        else ""
                    ),
                }
            )
    return {
        "prediction": prediction,
        "rows": rows,
        "logs_classes": units.band_table(units.LOGS_CLASSES, "log(mol/L)"),
        "usp_terms": units.band_table(units.USP_TERMS_MG_PER_ML, "mg/mL"),
    }


def _text(value, decimals: int) -> str:
    return "—" if value is None else f"{value:,.{decimals}f}"


@register.inclusion_tag("predictions/_profile.html")
def profile_panel(prediction) -> dict:
    """The stored RDKit profile as table rows, the rules it was checked against, its alerts."""
    stored = prediction.profile or {}
    rows = [
        {
            "label": field.label,
            "value": _text(stored.get(field.key), field.decimals),
            "unit": field.unit,
        }
        for field in profile.FIELDS
        if field.key not in ("lipinski_violations", "veber_violations")
    ]
    return {
        "prediction": prediction,
        "stored": stored,
        "label": profile.LABEL,
        "rows": rows,
        "lipinski": profile.rule_texts(profile.LIPINSKI),
        "lipinski_broken": profile.rule_texts(profile.LIPINSKI, stored.get("lipinski_broken", [])),
        "veber": profile.rule_texts(profile.VEBER),
        "veber_broken": profile.rule_texts(profile.VEBER, stored.get("veber_broken", [])),
        "alerts": stored.get("alerts") or [],
    }


HEADING_MAX_CHARS = 40


@register.filter
def heading(prediction) -> str:
    """A short page heading for a prediction: its title (cut at 60 characters), else its
    SMILES when short, else its formula; the full SMILES is shown below it (`heading_is_smiles`)."""
    if prediction.title:
        return units.shorten(prediction.title, 60)
    smiles = prediction.canonical_smiles or ""
    if len(smiles) <= HEADING_MAX_CHARS or not prediction.formula:
        return units.shorten(smiles, HEADING_MAX_CHARS)
    return prediction.formula


@register.filter
def heading_is_smiles(prediction) -> bool:
    """Whether `heading` shows the whole canonical SMILES (nothing more to show below it)."""
    return heading(prediction) == prediction.canonical_smiles


@register.filter
def parent_note_for_row(row) -> str:
    """salts.parent_note_for_input: what a salt batch row's values are for ("" for others)."""
    return salts.parent_note_for_input(row.input_smiles, outputs=row.outputs)
