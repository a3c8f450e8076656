"""Single-molecule CPU latency of a checkpoint (default: checkpoints/default).

python bench/bench_inference.py [--dir checkpoints/default] [--threads 1] [--n 200]
"""

import argparse
import statistics
import time

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

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
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    t = time.perf_counter()
    tok = AutoTokenizer.from_pretrained(a.dir)
    model = AutoModelForSequenceClassification.from_pretrained(a.dir).eval()
    print(f"load: {1e3 * (time.perf_counter() - t):.0f} ms")
    times = []
    with torch.inference_mode():
        for i in range(a.n + 10):
            t = time.perf_counter()
            enc = tok([SMILES[i % len(SMILES)]], return_tensors="pt", return_token_type_ids=False)
            model(**enc)
            if i >= 10:
                times.append(1e3 * (time.perf_counter() - t))
    times.sort()
    print(
        f"single molecule, {a.threads} thread(s): median {statistics.median(times):.2f} ms, "
        f"p95 {times[int(0.95 * len(times))]:.2f} ms (n={a.n})"
    )


if __name__ == "__main__":
    main()
