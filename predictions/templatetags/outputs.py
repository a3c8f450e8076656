"""Outputs as a chemist reads them: the linear value beside a log value, grouped outputs."""

from __future__ import annotations

from django import template

from chemreport import units

register = template.Library()


def linear_text(
    output: dict, molecular_weight: float | None = None, limit: dict | None = None
) -> str:
    """ "≈ 12 mL/min/kg" for a log output whose stored ``linear_unit`` says what 10**value is
    ("≈ 35 µg/mL (88 µM)" for µg/mL with the molecule's weight); "" otherwise. With the
    stored verdict's `limit` (the value passed an assay's reporting limit) the limit itself:
    "≤ 4.8 mL/min/kg", since the assay reports nothing past it."""
    unit = output.get("linear_unit") or ""
    value = output.get("value")
    if not unit or value is None:
        return ""
    sign = "≈"
    if limit and limit.get("value") is not None:
        sign, value = ("≤" if limit.get("side") == "below" else "≥"), limit["value"]
    linear = 10.0 ** float(value)
    text = (
        f"ratio {sign} {units.significant(linear)}"
        if unit == "ratio"
        else f"{sign} {units.significant(linear)} {unit}"
    )
    if unit == "µg/mL" and molecular_weight:
        text += f" ({units.significant(1000.0 * linear / float(molecular_weight))} µM)"
    return text


@register.simple_tag
def as_read(output: dict, molecular_weight: float | None = None, judged: dict | None = None) -> str:
    """The linear reading of a stored output; `judged`: its stored verdict (for a limit)."""
    return linear_text(output, molecular_weight, (judged or {}).get("limit"))
