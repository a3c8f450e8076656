"""Cost of the RDKit profile (descriptors, QED, stereocentres, FilterCatalog alerts) per molecule.

Runs `predictions.profile.profile_for_smiles` over the checkpoint's training molecules (real,
varied, drug-sized and small) and prints the catalog's one-off build time and the per-molecule
median, p95 and mean in ms (wall), and the CPU time per molecule (steadier on a shared, loaded
machine). No Django needed.

python bench/bench_profile.py [--limit 2000] [--csv checkpoints/default/training_set.csv]
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from predictions import profile  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--csv", default="checkpoints/default/training_set.csv")
    parser.add_argument("--limit", type=int, default=2000)
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
    times.sort()
    print(f"FilterCatalog build (once per process): {build_ms:.1f} ms")
    print(
        f"{len(times)} molecules: median {statistics.median(times):.2f} ms, "
        f"p95 {times[int(0.95 * len(times))]:.2f} ms, mean {statistics.fmean(times):.2f} ms, "
        f"CPU {cpu_ms:.2f} ms a molecule; {alerts} with at least one alert"
    )


if __name__ == "__main__":
    main()
