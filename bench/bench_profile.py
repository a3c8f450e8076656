"""Cost of the RDKit profile (descriptors, QED, stereocentres, FilterCatalog alerts) per molecule.

Runs `chemreport.profile.profile_for_smiles` over the checkpoint's training molecules (real,
varied, drug-sized and small) and prints the catalog's one-off build time and the per-molecule
median, p95 and mean in ms (wall), and the CPU time per molecule (steadier on a shared, loaded
machine). No Django needed.

python bench/bench_profile.py [--limit 2000] [--csv checkpoints/default/training_set.csv] [--parts]

`--parts` adds the CPU time of each part (where the time goes: mostly the 765 alert filters).
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chemreport import profile  # noqa: E402


def parts(smiles: list[str]) -> None:
    """CPU ms per molecule of each part, each on freshly parsed molecules (RDKit caches some
    descriptors on a molecule, so a second call on the same one would look cheaper)."""
    from rdkit import Chem
    from rdkit.Chem import QED, Crippen

    canonical = [Chem.MolToSmiles(Chem.MolFromSmiles(text)) for text in smiles]
    steps = {
        "parse the canonical SMILES": lambda text, mol: Chem.MolFromSmiles(text),
        "Crippen cLogP": lambda text, mol: Crippen.MolLogP(mol),
        "QED": lambda text, mol: QED.qed(mol),
        "stereocentres": lambda text, mol: Chem.FindMolChiralCenters(
            mol, includeUnassigned=True, useLegacyImplementation=False
        ),
        "FilterCatalog alerts (PAINS A/B/C, Brenk, NIH) with atoms": (
            lambda text, mol: profile.structural_alerts(mol)
        ),
        "the whole profile (parse included)": lambda text, mol: profile.profile_for_smiles(text),
    }
    for name, step in steps.items():
        mols = [Chem.MolFromSmiles(text) for text in canonical]
        cpu = time.process_time()
        for text, mol in zip(canonical, mols, strict=True):
            step(text, mol)
        print(f"  {name}: {(time.process_time() - cpu) * 1000 / len(canonical):.2f} ms CPU")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--csv", default="checkpoints/default/training_set.csv")
    parser.add_argument("--limit", type=int, default=2000)
    parser.add_argument("--parts", action="store_true", help="CPU per part of the profile")
    args = parser.parse_args()
    with open(args.csv, newline="", encoding="utf-8") as handle:
        rows = csv.DictReader(handle)
        column = "smiles" if "smiles" in (rows.fieldnames or []) else rows.fieldnames[0]
        smiles = [row[column] for row in rows][: args.limit]
    start = time.perf_counter()
    profile.filter_catalog()
    build_ms = (time.perf_counter() - start) * 1000
    times, alerts = [], 0
    cpu_start = time.process_time()
    for text in smiles:
        start = time.perf_counter()
        result = profile.profile_for_smiles(text)
        times.append((time.perf_counter() - start) * 1000)
        alerts += bool(result.get("alerts"))
    cpu_ms = (time.process_time() - cpu_start) * 1000 / len(smiles)
    if args.parts:
        parts(smiles)
    times.sort()
    print(f"FilterCatalog build (once per process): {build_ms:.1f} ms")
    print(
        f"{len(times)} molecules: median {statistics.median(times):.2f} ms, "
        f"p95 {times[int(0.95 * len(times))]:.2f} ms, mean {statistics.fmean(times):.2f} ms, "
        f"CPU {cpu_ms:.2f} ms a molecule; {alerts} with at least one alert"
    )


if __name__ == "__main__":
    main()
