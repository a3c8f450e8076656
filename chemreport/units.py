"""Readable numbers: logS in a formulator's units and words, and decimals the model can back.

Solubility bands (two commonly cited schemes, both shown with their thresholds):

- **logS classes** as SwissADME prints them for ESOL estimates (Daina, Michielin & Zoete,
  Sci. Rep. 7, 42717 (2017)): insoluble < −10 ≤ poorly < −6 ≤ moderately < −4 ≤ soluble
  < −2 ≤ very soluble < 0 ≤ highly soluble (log mol/L).
- **USP / Ph. Eur. descriptive terms** (USP General Notices 5.30; Ph. Eur. 1.4): parts of
  water needed for one part of solute, here read as mg/mL (1 mL of water ≈ 1 g): very
  soluble > 1000, freely 100–1000, soluble 33–100, sparingly 10–33, slightly 1–10, very
  slightly 0.1–1, practically insoluble < 0.1 mg/mL.

Decimals: a value is shown to the first decimal place no coarser than 1/20 of the output's
test RMSE, so rounding moves it by at most 1/40 of the model's typical error (logS RMSE 0.74
→ 2 decimals, ΔG_hyd 3.5 → 1). Pages and CSV use them; JSON keeps full precision.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

# What the number after "±" is, in the words every surface uses (page, report, exports, API).
UNCERTAINTY_SHORT = "± σ: one standard deviation of the prediction"
UNCERTAINTY_HELP = (
    "σ, the uncertainty: one standard deviation of the prediction, in the output's unit (the "
    "ensemble members' calibrated spread, with terms for an error model's predicted error and "
    "the distance to the nearest measured molecule where the model card says so). About 90 % "
    "of true values should lie within "
    "value ± 1.645 σ (nominal; the model card reports the coverage measured on the test sets)."
)

DEFAULT_DECIMALS = 2
MAX_DECIMALS = 4
RMSE_FRACTION = 20  # show digits down to RMSE / 20

# Units meaning log10(mol/L): how a logS output is recognised in any checkpoint.
_LOGS_UNIT = re.compile(r"^\s*log\s*\(?\s*mol\s*/\s*l\s*\)?\s*$", re.IGNORECASE)

# (lower bound, words), highest first: the value is in the first band whose bound it reaches.
LOGS_CLASSES = (
    (0.0, "highly soluble"),
    (-2.0, "very soluble"),
    (-4.0, "soluble"),
    (-6.0, "moderately soluble"),
    (-10.0, "poorly soluble"),
    (-math.inf, "insoluble"),
)
USP_TERMS_MG_PER_ML = (
    (1000.0, "very soluble"),
    (100.0, "freely soluble"),
    (100 / 3, "soluble"),
    (10.0, "sparingly soluble"),
    (1.0, "slightly soluble"),
    (0.1, "very slightly soluble"),
    (-math.inf, "practically insoluble"),
)


def decimals_for_rmse(rmse: float | None) -> int:
    """Decimals worth showing for an output whose test RMSE is `rmse` (2 when unknown)."""
    if not rmse or rmse <= 0 or not math.isfinite(rmse):
        return DEFAULT_DECIMALS
    decimals = math.ceil(-math.log10(rmse / RMSE_FRACTION) - 1e-9)
    return min(max(decimals, 0), MAX_DECIMALS)


def format_value(value: float | None, output: str | dict) -> str:
    """A value of `output` (a stored output dict, or a label) — a prediction, σ, a
    training-range bound — as display text: the decimals its test RMSE supports; "" for None.
    Every page and report uses this."""
    if value is None:
        return ""
    return f"{float(value):.{output_decimals(output)}f}"


def shorten(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, an ellipsis marking the cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def clean(value: float | None) -> float | None:
    """A float without binary noise (0.09299999999999956 -> 0.093): twelve significant
    digits, for numbers served as JSON where full precision is kept but noise is not."""
    return None if value is None else float(f"{float(value):.12g}")


def clean_range(found: dict | None) -> dict | None:
    """A training-range dict ({"min", "max", "p05", ...}) with every number `clean`ed."""
    if not found:
        return found
    return {key: clean(v) if isinstance(v, float) else v for key, v in found.items()}


def rounded(value: float | None, decimals: int) -> float | None:
    return None if value is None else round(float(value), decimals)


_decimals: dict[str, int] = {}


def remember_decimals(test_metrics: dict) -> None:
    """Decimals per output label of the model this process serves, from its test RMSE (set
    once when it loads: predictions.serving); a page never loads the model for them."""
    _decimals.clear()
    _decimals.update(
        {label: decimals_for_rmse((m or {}).get("rmse")) for label, m in test_metrics.items()}
    )


def decimals_by_label() -> dict[str, int]:
    return dict(_decimals)


def output_decimals(output: str | dict) -> int:
    """Decimals for a stored output dict (its own "decimals", stored with it) or a label (the
    served model's)."""
    if isinstance(output, dict):
        if output.get("decimals") is not None:
            return int(output["decimals"])
        output = output.get("label", "")
    return _decimals.get(output, DEFAULT_DECIMALS)


def rounded_outputs(outputs: list[dict]) -> list[dict]:
    """Stored output dicts with value and uncertainty rounded to their output's decimals."""
    return [
        {
            **o,
            "value": rounded(o["value"], output_decimals(o)),
            "uncertainty": rounded(o.get("uncertainty"), output_decimals(o)),
        }
        for o in outputs
    ]


def is_logs(output: dict) -> bool:
    """An output in log10(mol/L): aqueous solubility."""
    return bool(_LOGS_UNIT.match(output.get("unit") or ""))


def _band(value: float, bands: tuple) -> str:
    return next(words for bound, words in bands if value >= bound)


@dataclass(frozen=True)
class Solubility:
    """One logS value in other units and words."""

    logs: float
    micromolar: float
    micrograms_per_ml: float | None  # needs the molecular weight
    logs_class: str
    usp_term: str | None

    @property
    def mg_per_ml(self) -> float | None:
        return None if self.micrograms_per_ml is None else self.micrograms_per_ml / 1000


def solubility(logs: float, molecular_weight: float | None) -> Solubility:
    """logS (log10 mol/L) as µM and µg/mL (from this molecule's weight, g/mol), with bands.

    10**logS mol/L × MW g/mol = g/L = mg/mL; × 1000 = µg/mL.
    """
    molar = 10.0**logs
    ug_per_ml = molar * molecular_weight * 1000 if molecular_weight else None
    return Solubility(
        logs=logs,
        micromolar=molar * 1e6,
        micrograms_per_ml=ug_per_ml,
        logs_class=_band(logs, LOGS_CLASSES),
        usp_term=None if ug_per_ml is None else _band(ug_per_ml / 1000, USP_TERMS_MG_PER_ML),
    )


def significant(value: float, digits: int = 2) -> str:
    """`value` to `digits` significant figures in plain notation, thousands separated.

    Concentrations span many orders of magnitude; a logS good to ~0.7 log units supports
    no more than two significant figures.
    """
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    decimals = digits - 1 - math.floor(math.log10(abs(value)))
    value = round(value, decimals)
    return f"{value:,.{max(decimals, 0)}f}"


def _bound(value: float) -> str:
    return f"{int(value):,}" if value == int(value) else f"{value:.3g}"


def band_table(bands: tuple, unit: str) -> list[tuple[str, str]]:
    """(words, range) rows for stating a scheme's thresholds on the page."""
    rows = []
    upper = None
    for bound, words in bands:
        low = "" if bound == -math.inf else f"≥ {_bound(bound)}"
        high = "" if upper is None else f"< {_bound(upper)}"
        rows.append((words, " and ".join(part for part in (low, high) if part) + f" {unit}"))
        upper = bound
    return rows
