"""Server time of one new prediction and of one repeated prediction, through the real view.

Runs Django's test client (the whole request: form, RDKit, model, pictures, database write,
redirect) against a throwaway SQLite database and the shipped checkpoint. Reports medians
and the ratio new/repeated measured in this one run.

    python bench/bench_predict.py [--n 30]
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smiles_site.settings_test")
os.environ.setdefault("SMILES_VAR_DIR", tempfile.mkdtemp(prefix="bench-predict-"))

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

# A homologous series plus ring variants: distinct, drug-fragment-like molecules.
MOLECULES = [f"{'C' * i}O" for i in range(1, 16)] + [f"c1ccccc1{'C' * i}N" for i in range(1, 16)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=30)
    args = parser.parse_args()
    setup_test_environment()
    call_command("migrate", verbosity=0)
    client = Client()
    client.post("/", {"smiles": "CCN"})  # load the model and warm caches first

    def timed(smiles: str) -> float:
        start = time.perf_counter()
        response = client.post("/", {"smiles": smiles})
        elapsed = time.perf_counter() - start
        assert response.status_code == 302, response.status_code
        return elapsed

    new = [timed(s) for s in MOLECULES[: args.n]]
    repeated = [timed(s) for s in MOLECULES[: args.n]]
    med_new, med_rep = statistics.median(new), statistics.median(repeated)
    print(f"new prediction:      median {med_new * 1000:.1f} ms (n={len(new)})")
    print(f"repeated prediction: median {med_rep * 1000:.1f} ms (n={len(repeated)})")
    print(f"ratio new/repeated:  {med_new / med_rep:.1f}x")


if __name__ == "__main__":
    main()
