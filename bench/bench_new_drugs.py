"""CPU time of one new prediction of a drug-like molecule, in-process: parse, predict, judge
the domain, draw the two SVGs the result page shows, store. No HTTP (bench_predict.py has it).

The molecules are every fifth of the first 200 approved drugs in the checkpoint's
approved_drugs.csv; a fresh SQLite database in a temporary directory; one torch thread.
Compare two trees with the same molecules, same Python, one after the other (twice,
alternating, on a busy machine):

    git archive e1a4070 | (mkdir -p /tmp/old && tar -x -C /tmp/old)
    python bench/bench_new_drugs.py --tree /tmp/old && python bench/bench_new_drugs.py
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tree", type=Path, default=ROOT, help="the site's code to run")
    tree = parser.parse_args().tree.resolve()
    os.chdir(tree)
    folder = tempfile.mkdtemp(prefix="bench-new-drugs-")
    os.environ.update(SQLITE_PATH=f"{folder}/db.sqlite3", TORCH_THREADS="1", DJANGO_DEBUG="true")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smiles_site.settings")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.path.insert(0, str(tree))
    import django

    django.setup()
    from django.core.management import call_command

    from predictions import services

    call_command("migrate", verbosity=0)
    with (ROOT / "checkpoints" / "default" / "approved_drugs.csv").open(newline="") as handle:
        smiles = [row["smiles"] for row in csv.DictReader(handle)][:200:5]
    services.prediction_get_or_create(text="CCO")  # load the model, draw the first figures
    cpu, wall = [], []
    for text in smiles:
        started, clock = time.process_time(), time.perf_counter()
        services.prediction_get_or_create(text=text)
        cpu.append(1e3 * (time.process_time() - started))
        wall.append(1e3 * (time.perf_counter() - clock))
    print(
        f"{tree}: {len(smiles)} new drug predictions: CPU median {statistics.median(cpu):.1f} ms, "
        f"wall median {statistics.median(wall):.1f} ms"
    )


if __name__ == "__main__":
    main()
