"""Approved-drug context on list pages (a batch's rows): each value's percentile in words."""

from __future__ import annotations

from django import template

from predictions.serving import reference

register = template.Library()


@register.simple_tag
def drug_percentile(model_hash: str, output: dict) -> str:
    """The output's percentile among approved drugs ("62nd"); "" without a reference made by
    the weights `model_hash` names."""
    found = reference.for_model(model_hash)
    percent = found.percentile(output["label"], output.get("value")) if found else None
    return "" if percent is None else reference.ordinal(percent)


@register.simple_tag
def drug_count(model_hash: str) -> int:
    """How many approved drugs the percentiles of this model's values are among (0: none)."""
    found = reference.for_model(model_hash)
    return len(found) if found else 0
