"""The columns and cells of the site's CSV and SDF tables (a prediction's, a batch's), and a
CSV writer no spreadsheet can be made to run.

Output columns carry their units in brackets; the trust columns follow (σ, the domain verdict
and reasons, a salt's parent note), then the RDKit profile's, named `rdkit_...` so they never
clash with a batch's own columns or the model's outputs. Profile cells are rounded to each
value's decimals unless full precision is asked for.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable

from chemcore.domain import all_reasons, verdict_label
from chemreport.profile import FIELDS

# OWASP "CSV injection": a cell starting with one of these may run as a spreadsheet formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def safe_cell(value):
    """A CSV cell no spreadsheet will run: text with a formula start gets a leading `'`.

    A formula start counts after leading spaces too (` =1+1`), and in its full-width or small
    forms (`＝`, `＋`, `－`, `＠`, `﹦`: some spreadsheets read them as `=`, `+`, `-`, `@`).
    Numbers (ours, as int/float) pass unchanged, and so does text that is a plain number
    such as an assay value `-3.5` (a spreadsheet reads it as that number, never a formula).
    """
    if not isinstance(value, str) or not value:
        return value
    if value.startswith(FORMULA_STARTS):
        plain = value
    else:
        plain = unicodedata.normalize("NFKC", value).lstrip(" \u00a0\u3000")
        if not plain.startswith(FORMULA_STARTS):
            return value
    return value if PLAIN_NUMBER.fullmatch(plain) else "'" + value


class SafeCsvWriter:
    """csv.writer whose every text cell goes through `safe_cell`: use it for all CSV exports."""

    def __init__(self, buffer: io.StringIO) -> None:
        self._writer = csv.writer(buffer, lineterminator="\n")

    def writerow(self, row: Iterable) -> None:
        self._writer.writerow([safe_cell(value) for value in row])


def output_header(output: dict) -> str:
    """Column name for one output, units in brackets (as batch exports use too)."""
    return f"{output['label']} [{output['unit']}]" if output.get("unit") else output["label"]


def uncertainty_header(output: dict) -> str:
    """Column name for an output's uncertainty (one standard deviation, same unit)."""
    return f"{output_header(output)} uncertainty"


def trust_header(specs: list[dict]) -> list[str]:
    """Columns after the values: each output's uncertainty (σ, one standard deviation), the
    domain verdict and reasons, and for a salt or mixture what the values are for."""
    return [
        *(uncertainty_header(o) for o in specs),
        "domain_verdict",
        "domain_reasons",
        "parent_note",
    ]


def trust_cells(
    specs: list[dict], outputs: list[dict], domain: dict | None, parent_note: str = ""
) -> list:
    """Cells for `trust_header`: blank uncertainty when the model gives none, blank verdict
    for predictions stored before the domain check existed; `parent_note`
    (salts.parent_note) blank for anything but a salt or mixture."""
    sigmas = {o["label"]: o.get("uncertainty") for o in outputs}
    cells = ["" if sigmas.get(o["label"]) is None else float(sigmas[o["label"]]) for o in specs]
    verdict = verdict_label(domain.get("verdict")) if domain else ""
    return [*cells, verdict, "; ".join(all_reasons(domain)), parent_note]


def profile_header() -> list[str]:
    return [*(f"rdkit_{field.key}" for field in FIELDS), "rdkit_alert_count", "rdkit_alerts"]


def alerts_text(profile: dict | None) -> str:
    """`PAINS_A ene_rhod_A(235) [atoms 0 1 2]; Brenk ...`: every alert on one line."""
    return "; ".join(
        f"{alert['set']} {alert['name']} [atoms {' '.join(map(str, alert['atoms']))}]"
        for alert in (profile or {}).get("alerts") or []
    )


def profile_cells(profile: dict | None, *, full: bool = False) -> list:
    """Cells for `profile_header`; blank where a prediction has no profile."""
    if not profile:
        return [""] * (len(FIELDS) + 2)
    cells = []
    for field in FIELDS:
        value = profile.get(field.key)
        if value is None:
            cells.append("")
        elif field.decimals == 0:
            cells.append(int(value))
        else:
            cells.append(float(value) if full else round(float(value), field.decimals))
    alerts = profile.get("alerts") or []
    return [*cells, len(alerts), alerts_text(profile)]
