"""A gallery or home-page card, written in Python: the same HTML as
templates/predictions/_card.html, byte for byte (tests/predictions/test_cards.py renders both), at about a
tenth of the template's cost (24 cards: ~5 ms through the template engine, which resolves
~30 variables and two includes per card).

`_card.html` stays the reference: change both together.
"""

from __future__ import annotations

from django import template
from django.template.defaultfilters import floatformat, pluralize
from django.utils.html import conditional_escape, escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator

from chemreport import units
from predictions.templatetags.trust import verdict_label

register = template.Library()

_MARKS = {"in": "✓", "care": "!"}
_MISSING = ""  # what a variable that does not resolve renders as (string_if_invalid)


def _lookup(value, key: str):
    """`value.key` as a template resolves it: dict key, then attribute, else _MISSING."""
    try:
        return value[key]
    except (TypeError, KeyError, AttributeError, IndexError, ValueError):
        pass
    return getattr(value, key, _MISSING)


def _text(value) -> str:
    """`{{ value }}` of a resolved variable, escaped (None renders as "None", as there)."""
    return conditional_escape(str(value))


def verdict_html(verdict) -> str:
    """templates/predictions/_verdict.html."""
    if not verdict:
        return ""
    mark = _MARKS.get(verdict, "✕")
    return (
        f'<span class="verdict verdict-{escape(verdict)}"><span aria-hidden="true">{mark}</span>'
        f" {conditional_escape(verdict_label(verdict))}</span>"
    )


def card_html(prediction) -> SafeString:
    url = escape(prediction.get_absolute_url())
    name = str(prediction)
    search_svg = getattr(prediction, "search_svg", None)
    if search_svg:
        picture = (
            "\n"  # the comment line of _search_match.html renders as nothing, then a newline
            f'<span class="search-match" role="img" aria-label="Structure of {escape(name)}, '
            f'the matching atoms highlighted">{search_svg}</span>\n'
        )
    else:
        picture = (
            f'<img src="{url}molecule.png" alt="Structure of {escape(name)}" width="200" '
            'height="150" loading="lazy">'
        )
    parts = [
        f'\n<li class="card">\n  <a href="{url}">\n    {picture}\n',
        f'    <span class="card-title">{escape(Truncator(name).chars(40))}</span>\n  </a>\n  ',
    ]
    if prediction.featured:
        parts.append('<span class="badge">Featured</span>')
    parts.append("\n  " + verdict_html(_lookup(prediction.domain, "verdict")) + "\n  ")
    alerts = len((prediction.profile or {}).get("alerts") or [])
    if alerts:
        parts.append(
            f'<span class="alert-count"><span aria-hidden="true">⚠</span> {alerts} '
            f"structural alert{pluralize(alerts)}</span>"
        )
    parts.append("\n  ")
    similarity = getattr(prediction, "search_similarity", None)
    if similarity:
        parts.append(f'<span class="similarity">Similarity {floatformat(similarity, 2)}</span>')
    parts.append('\n  <dl class="card-values">\n    ')
    for output in prediction.outputs or []:
        value = units.format_value(_lookup(output, "value"), output)
        parts.append(
            f"<div><dt>{_text(_lookup(output, 'label'))}</dt><dd>{conditional_escape(value)} "
            f"{_text(_lookup(output, 'unit'))}</dd></div>"
        )
    parts.append("\n  </dl>\n</li>\n")
    return mark_safe("".join(parts))


@register.simple_tag
def card(prediction) -> SafeString:
    """`{% card prediction %}`: what `{% include "predictions/_card.html" %}` renders."""
    return card_html(prediction)
