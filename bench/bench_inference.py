"""CPU inference of a checkpoint as the site runs it (plain or ensemble: every member).

python bench/bench_inference.py [--dir checkpoints/default] [--threads 1] [--n 200] [--batch 1000]

Single molecule: tokenise + all members + mean/spread (`Predictor.predict_with_uncertainty`),
median and p95. Batch: the checkpoint's own training molecules in batches of 128 (the worker's
`BATCH_INFERENCE_SIZE`), molecules per second. Inference only: no parsing, domain or storage.
"""

import argparse
import csv
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from predictions.inference import Predictor  # noqa: E402

SMILES = [
    "CCO",
    "c1ccccc1",
    "CC(=O)Oc1ccccc1C(=O)O",
    "CN1C=NC2=C1C(=O)N(C(=O)N2C)C",
    "CC(C)Cc1ccc(cc1)C(C)C(=O)O",
    "OCC1OC(O)C(O)C(O)C1O",
]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dir", default="checkpoints/default")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--batch", type=int, default=1000, help="molecules for the batch figure")
    a = p.parse_args()
    t = time.perf_counter()
    predictor = Predictor(a.dir, threads=a.threads)
    members = len(predictor.models)
    print(f"load: {1e3 * (time.perf_counter() - t):.0f} ms ({members} member(s))")
    times = []
    for i in range(a.n + 10):
        t = time.perf_counter()
        predictor.predict_with_uncertainty([SMILES[i % len(SMILES)]])
        if i >= 10:
            times.append(1e3 * (time.perf_counter() - t))
    times.sort()
    print(
        f"single molecule, all {members} member(s), {a.threads} thread(s): median "
        f"{statistics.median(times):.2f} ms, p95 {times[int(0.95 * len(times))]:.2f} ms (n={a.n})"
    )
    path = Path(a.dir) / "training_set.csv"
    if path.exists() and a.batch:
        with path.open(newline="") as handle:
            rows = [row["smiles"] for row in csv.DictReader(handle)]
        fits = [s for s in rows if predictor.token_count(s) <= predictor._max_tokens()]
        smiles = fits[: a.batch]
        t = time.perf_counter()
        predictor.predict_with_uncertainty(smiles, batch_size=128)
        seconds = time.perf_counter() - t
        print(
            f"batch of {len(smiles)} training molecules, batches of 128, {a.threads} thread(s): "
            f"{len(smiles) / seconds:.0f} mol/s"
        )


if __name__ == "__main__":
    main()
