"""Template filters for the applicability-domain verdict (badge text, reasons)."""

from django import template

from chemcore import domain

register = template.Library()


@register.filter
def verdict_label(verdict: str | None) -> str:
    return domain.verdict_label(verdict)


@register.filter
def domain_reasons(stored: dict | None) -> list[str]:
    """Every reason in a stored domain result, prefixed by its output where specific."""
    return domain.all_reasons(stored)


@register.filter
def domain_for(stored: dict | None, label: str) -> dict:
    """The stored per-output domain result for the output `label` ({} if none)."""
    for output in (stored or {}).get("outputs") or []:
        if output.get("label") == label:
            return output
    return {}


@register.filter
def read_across(stored: dict | None) -> list[dict]:
    """The stored per-output results whose value read-across moved by a weight worth telling
    (1 % or more): the result page says what the model gave and what the analogues did."""
    return [
        output
        for output in (stored or {}).get("outputs") or []
        if (output.get("read_across") or {}).get("weight", 0.0) >= 0.01
    ]
