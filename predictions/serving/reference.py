"""The approved-drug reference of the served model, loaded once per process, and what pages,
downloads and the API read of it (the file and its percentiles: chemreport/drugs.py)."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from django.conf import settings

from chemcore.model import Model
from chemreport.drugs import (
    FILENAME,
    MISSING,
    SOURCE,
    DrugReference,
    load_for,
)
from chemreport.rendering import DrugDensity
from predictions.serving import get_model

log = logging.getLogger(__name__)

# --- The process-wide reference ----------------------------------------------------------------

_cache: dict[tuple, tuple[DrugReference | None, str]] = {}
_lock = threading.Lock()


def reference_path(model: Model) -> Path:
    """Where the reference for the served checkpoint lives (inside it, unless configured)."""
    configured = getattr(settings, "DRUG_REFERENCE_PATH", None)
    return Path(configured) if configured else Path(model.directory) / FILENAME


def _state() -> tuple[DrugReference | None, str]:
    model = get_model()
    path = reference_path(model)
    try:  # a rebuilt file is read again without a restart
        stamp = path.stat().st_mtime_ns
    except OSError:
        stamp = None
    key = (model.weights_hash, str(path), stamp)
    if key not in _cache:
        with _lock:
            if key not in _cache:
                _cache.clear()
                _cache[key] = load_for(model, path)
    return _cache[key]


def get_reference() -> DrugReference | None:
    """The served model's approved-drug reference, loaded once per process; None without one."""
    return _state()[0]


def unavailable_reason() -> str:
    """Why there are no percentiles (MISSING, STALE), or "" when there are."""
    return _state()[1]


def reset_reference() -> None:
    """Forget the loaded reference (tests, and after the command rebuilt it in-process)."""
    with _lock:
        _cache.clear()


def for_model(model_hash: str) -> DrugReference | None:
    """The reference, only for predictions made by the weights it was made for."""
    found = get_reference()
    return found if found is not None and found.weights_hash == model_hash else None


# --- What pages and exports show ------------------------------------------------------------------


def plots_redrawn(model_hash: str) -> int:
    """Forget the stored plots of this model's predictions (drawn without, or with an older,
    reference): each is drawn again, with the drugs, when next viewed. Returns how many."""
    from django.db import DatabaseError

    from predictions.models import Prediction

    try:
        return Prediction.objects.filter(model_hash=model_hash).update(plot_png=None, plot_svg="")
    except DatabaseError:  # no database yet (not migrated): nothing stored to redraw
        return 0


def densities(model_hash: str, labels: list[str]) -> list[DrugDensity | None]:
    """The drugs' distribution per output, for the plots of a prediction by `model_hash`."""
    found = for_model(model_hash)
    return [found.density_for_plot(label) if found else None for label in labels]


def cache_key() -> str:
    """Names the reference in use (or its absence), for the ETags of what shows it."""
    found = get_reference()
    return found.digest[:16] if found else unavailable_reason()


def percentiles(model_hash: str, outputs: list[dict]) -> list[float | None]:
    """Each stored output's percentile among approved drugs (None where there is none)."""
    found = for_model(model_hash)
    if found is None:
        return [None] * len(outputs)
    return [found.percentile(o["label"], o.get("value")) for o in outputs]


def percentile_header(specs: list[dict]) -> list[str]:
    """Export columns after the trust columns: one percentile per output."""
    return [f"{spec['label']} percentile among approved drugs" for spec in specs]


def percentile_cells(model_hash: str, specs: list[dict], outputs: list[dict]) -> list:
    """Cells for `percentile_header`, rounded to 0.1; blank without a matching reference."""
    by_label = {o["label"]: o for o in outputs}
    ordered = [by_label.get(spec["label"], {"label": spec["label"]}) for spec in specs]
    return ["" if p is None else round(p, 1) for p in percentiles(model_hash, ordered)]


def json_context(model_hash: str, outputs: list[dict]) -> dict | None:
    """values.json's percentiles (by output label) and their reference; None without one."""
    found = for_model(model_hash)
    if found is None:
        return None
    return {
        "source": SOURCE,
        "drugs": len(found),
        "weights_sha256": found.weights_hash,
        "percentiles": {o["label"]: found.percentile(o["label"], o.get("value")) for o in outputs},
    }


def ordinal(percent: float) -> str:
    """38.4 -> "38th": the nearest whole percentile, in words a chemist reads."""
    whole = min(99, max(1, round(percent))) if 0 < percent < 100 else round(percent)
    suffix = "th" if 10 <= whole % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(whole % 10, "th")
    return f"{whole}{suffix}"


def page_context(prediction) -> dict:
    """The result page's approved-drug panel: rows per output, or why it is missing."""
    found = for_model(prediction.model_hash)
    if found is None:
        reason = unavailable_reason() or ("other-model" if get_reference() else MISSING)
        return {"drugs": None, "reason": reason}
    rows = []
    for output, percent in zip(
        prediction.outputs, percentiles(prediction.model_hash, prediction.outputs)
    ):
        values = found.sorted_values.get(output["label"]) or []
        median = values[len(values) // 2] if values else None
        rows.append(
            {
                "label": output["label"],
                "unit": output.get("unit", ""),
                "value": output["value"],
                "percentile": percent,
                "ordinal": None if percent is None else ordinal(percent),
                "median": median,
            }
        )
    scatter = scatter_axes(prediction.outputs) is not None
    return {"drugs": len(found), "rows": rows, "reason": "", "scatter": scatter}


def scatter_axes(outputs: list[dict]) -> tuple[int, int] | None:
    """Which two outputs the drug scatter plots: x = the second (logD7.4 for the shipped
    model), y = the first (logS); None unless there are two regression outputs."""
    regression = all(o.get("kind", "regression") == "regression" for o in outputs)
    return (1, 0) if regression and len(outputs) >= 2 else None
