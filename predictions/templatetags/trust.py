"""Template filters for the applicability-domain verdict (badge text, reasons)."""

from django import template

from predictions import domain

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
