"""The RDKit profile in files: CSV/SDF columns, and the structure drawn with its alerts marked.

Column names start with `rdkit_` so they never clash with a batch's own columns or with the
model's outputs. CSV cells are rounded to each value's decimals unless full precision is
asked for; JSON and the SD fields keep the stored values.
"""

from __future__ import annotations

from rdkit import Chem

from chemreport import rendering
from chemreport.profile import FIELDS, alert_atoms
from predictions.models import Prediction


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


def alerts_svg(prediction: Prediction) -> str:
    """The structure with every structural alert's atoms highlighted (plain when there are none).

    Drawn from the canonical SMILES, whose atom order the stored alert indices refer to.
    """
    mol = Chem.MolFromSmiles(prediction.canonical_smiles)
    return rendering.molecule_svg_highlighted(mol, alert_atoms(prediction.profile))
