"""CPU prediction with the model object (chemcore.model.Model), as the site runs it.

python bench/bench_inference.py [--dir checkpoints/default] [--threads 1] [--n 200] [--batch 1000]
    [--batch-size 128] [--rounds 2]

Compares, in one run and interleaved (so all see the same machine load), the per-member HF
loop (`engine="hf"`), torch's stacked ensemble (`engine="auto"`, MODEL_ENGINE=torch) and the
NumPy engine the site uses by default (`engine="numpy"`, no torch in the process). Single molecule: `model.predict(smiles)`, everything from parsing to the
verdicts and all outputs, median and p95. Batch: the checkpoint's own training molecules
through `model.predict(list)` in forward batches of `--batch-size` (the worker's
`BATCH_INFERENCE_SIZE`), molecules per second (best of `--rounds`). Also the largest
difference between the engines' final values and σ, and the load average. No storage.
"""

import argparse
import csv
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chemcore.model import Model, Refused  # noqa: E402

SMILES = [
    "CCO",
    "c1ccccc1",
    "CC(=O)Oc1ccccc1C(=O)O",
    "CN1C=NC2=C1C(=O)N(C(=O)N2C)C",
    "CC(C)Cc1ccc(cc1)C(C)C(=O)O",
    "OCC1OC(O)C(O)C(O)C1O",
]


def _load() -> str:
    return "load average " + ", ".join(f"{v:.2f}" for v in os.getloadavg())


def _max_difference(a: Model, b: Model, smiles: list[str], batch_size: int) -> float:
    left = a.predict(smiles, batch_size=batch_size)
    right = b.predict(smiles, batch_size=batch_size)
    return max(
        abs(x - y)
        for p, q in zip(left, right)
        if not isinstance(p, Refused)  # refused by both: a metal at the door
        for x, y in zip(p.values + p.uncertainties, q.values + q.uncertainties)
        if x is not None
    )


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dir", default="checkpoints/default")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--batch", type=int, default=1000, help="molecules for the batch figure")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--rounds", type=int, default=2, help="batch runs per engine, best kept")
    a = p.parse_args()
    print(_load())
    engines = {}
    for name in ("hf", "auto", "numpy"):
        t = time.perf_counter()
        engines[name] = Model.load(a.dir, threads=a.threads, engine=name)
        print(
            f"load ({name} -> {engines[name].network.engine}): "
            f"{1e3 * (time.perf_counter() - t):.0f} ms ({len(engines[name].network.configs)} "
            "member(s), domain included)"
        )
    members = len(engines["hf"].network.configs)
    times = {name: [] for name in engines}
    for i in range(a.n + 10):
        for name, model in engines.items():
            t = time.perf_counter()
            model.predict(SMILES[i % len(SMILES)])
            if i >= 10:
                times[name].append(1e3 * (time.perf_counter() - t))
    median = {}
    for name, values in times.items():
        values.sort()
        median[name] = statistics.median(values)
        print(
            f"single molecule, {engines[name].network.engine}, all {members} member(s), {a.threads} "
            f"thread(s): median {median[name]:.2f} ms, p95 "
            f"{values[int(0.95 * len(values))]:.2f} ms (n={a.n})"
        )
    print(
        f"single molecule, hf / stacked: {median['hf'] / median['auto']:.2f}x, "
        f"stacked / numpy: {median['auto'] / median['numpy']:.2f}x"
    )
    path = Path(a.dir) / "training_set.csv"
    if path.exists() and a.batch:
        with path.open(newline="") as handle:
            rows = [row["smiles"] for row in csv.DictReader(handle)]
        limit = engines["hf"].max_tokens
        smiles = [s for s in rows if engines["hf"].network.token_count(s) <= limit][: a.batch]
        rates = {name: 0.0 for name in engines}
        for _ in range(a.rounds):
            for name, model in engines.items():
                t = time.perf_counter()
                model.predict(smiles, batch_size=a.batch_size)
                rates[name] = max(rates[name], len(smiles) / (time.perf_counter() - t))
        for name, rate in rates.items():
            print(
                f"batch of {len(smiles)} training molecules, {engines[name].network.engine}, batches of "
                f"{a.batch_size}, {a.threads} thread(s): {rate:.0f} mol/s (best of {a.rounds})"
            )
        print(
            f"batch, stacked / hf: {rates['auto'] / rates['hf']:.2f}x, "
            f"numpy / stacked: {rates['numpy'] / rates['auto']:.2f}x"
        )
        for name in ("auto", "numpy"):
            difference = _max_difference(engines["hf"], engines[name], smiles, a.batch_size)
            print(
                f"largest |hf - {engines[name].network.engine}| over values and uncertainties: "
                f"{difference:.2e}"
            )
    print(_load())


if __name__ == "__main__":
    main()
