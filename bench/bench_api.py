"""API single-molecule latency next to the HTML form, in one run, through the real views.

Django's test client (whole request: parsing, RDKit, model, database) against a throwaway
SQLite database and the shipped checkpoint. For each of n molecule pairs: one new molecule
through the form (POST /, which also draws its 4 pictures) and one through the API
(POST /api/v1/predict, pictures left to the first view), then both again (stored).

    python bench/bench_api.py [--n 30]
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
os.environ.setdefault("SMILES_VAR_DIR", tempfile.mkdtemp(prefix="bench-api-"))
os.environ["API_ANON_RATE"] = "1000000/min"  # measure the work, not the throttle

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

FORM = [f"{'C' * i}O" for i in range(1, 21)] + [f"c1ccccc1{'C' * i}N" for i in range(1, 21)]
API = [f"{'C' * i}N" for i in range(1, 21)] + [f"c1ccccc1{'C' * i}O" for i in range(1, 21)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=30)
    args = parser.parse_args()
    setup_test_environment()
    call_command("migrate", verbosity=0)
    client = Client()
    client.post("/", {"smiles": "CCS"})  # load the model, warm caches
    client.post("/api/v1/predict", {"smiles": "CCCS"}, content_type="application/json")

    def form(smiles: str) -> float:
        start = time.perf_counter()
        response = client.post("/", {"smiles": smiles})
        elapsed = time.perf_counter() - start
        assert response.status_code == 302, response.status_code
        return elapsed

    def api(smiles: str) -> float:
        start = time.perf_counter()
        response = client.post(
            "/api/v1/predict", {"smiles": smiles}, content_type="application/json"
        )
        elapsed = time.perf_counter() - start
        assert response.status_code == 200 and response.json()["results"][0]["ok"]
        return elapsed

    times: dict[str, list[float]] = {key: [] for key in ("form new", "api new")}
    times.update({"form stored": [], "api stored": []})
    for pass_name in ("new", "stored"):
        for form_smiles, api_smiles in zip(FORM[: args.n], API[: args.n]):
            times[f"form {pass_name}"].append(form(form_smiles))
            times[f"api {pass_name}"].append(api(api_smiles))
    medians = {key: statistics.median(values) * 1000 for key, values in times.items()}
    for key, value in medians.items():
        print(f"{key:12s} median {value:7.1f} ms (n={len(times[key])})")
    print(f"new: form/api {medians['form new'] / medians['api new']:.1f}x")
    print(f"stored: form/api {medians['form stored'] / medians['api stored']:.1f}x")


if __name__ == "__main__":
    main()
