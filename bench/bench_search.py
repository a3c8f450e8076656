"""Structure search times over 10,000 and 100,000 stored molecules (predictions.search).

    python bench/bench_search.py 10000 100000     # each size in a fresh process
    python bench/bench_search.py 10000 --pictures  # rows carrying a form's two SVGs too

Each size runs in its own process against a throwaway SQLite database. Molecules come from
the MOSES sample (~/.cache/smiles-site-data/moses-200000-seed0.smi, else RDKit-made
variants), stored as listed predictions with their search fingerprints as the site computes
them (the model is not run: search never reads the values). Then each search goes through
`selectors.gallery_page` as the gallery view calls it (candidates, screen, ordering, one
page of 24 records loaded, highlighted pictures for a substructure page), and through the
whole gallery view once (Django test client). Median of 5 runs each, after one warm-up whose
time is reported too (`first_ms`: for similarity, the read that fills the process's cache).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MOSES = Path.home() / ".cache/smiles-site-data/moses-200000-seed0.smi"
SEARCHES = [
    ("exact", "", "OC(=O)c1ccccc1OC(C)=O", 0.5),
    ("exact, name text", "", "benz", 0.5),
    ("substructure, sulfonamide", "substructure", "NS(=O)(=O)c1ccccc1", 0.5),
    ("substructure, SMARTS carboxylic acid", "substructure", "[CX3](=O)[OX2H1]", 0.5),
    ("substructure, rare (tetrazole)", "substructure", "c1nnn[nH]1", 0.5),
    ("similar >= 0.7", "similar", "Cc1cccc(NC(=O)N(CCC#N)Cc2ccccn2)c1C", 0.7),
    ("similar >= 0.5", "similar", "Cc1cccc(NC(=O)N(CCC#N)Cc2ccccn2)c1C", 0.5),
    ("similar >= 0.3", "similar", "Cc1cccc(NC(=O)N(CCC#N)Cc2ccccn2)c1C", 0.3),
]


def molecules(count: int) -> list[str]:
    if MOSES.exists():
        lines = MOSES.read_text().split()
        if len(lines) >= count:
            return lines[:count]
    from rdkit import Chem

    smiles, n = [], 0
    while len(smiles) < count:  # alkyl-chain variants of a few scaffolds: distinct, valid
        for core in ("c1ccccc1", "c1ccncc1", "C1CCNCC1", "c1ccc2ccccc2c1"):
            smiles.append(Chem.CanonSmiles(f"{'C' * (n % 40 + 1)}{core}{'O' * (n // 40 % 5)}"))
        n += 1
    return smiles[:count]


def timed(call, runs: int = 5) -> float:
    call()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def pictures() -> dict:
    """Picture fields as a form prediction stores them (drawn once, the same for every row)."""
    from rdkit import Chem

    from chemreport import rendering

    aspirin = Chem.MolFromSmiles("CC(=O)Oc1ccccc1C(=O)O")
    plot = rendering.PlotOutput(label="logS", value=-2.0, unit="log mol/L")
    return {
        "molecule_svg": rendering.molecule_svg(aspirin),
        "plot_svg": rendering.prediction_plot_svg([plot], kind="regression"),
    }


def run_one(size: int, with_pictures: bool) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="bench-search-"))
    os.environ.update(
        SMILES_VAR_DIR=str(tmp),
        SQLITE_PATH=str(tmp / "db.sqlite3"),
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY="bench-only",
        DJANGO_SECURE="false",
        DJANGO_SETTINGS_MODULE="smiles_site.settings",
        HUEY_SQLITE_PATH=str(tmp / "huey.sqlite3"),
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import override_settings, setup_test_environment
    from django.utils import timezone
    from rdkit import Chem

    from chemreport import matching
    from predictions import selectors
    from predictions.models import Prediction

    call_command("migrate", verbosity=0)
    start = time.perf_counter()
    now, records, seen = timezone.now(), [], set()
    blobs = pictures() if with_pictures else {}
    for smiles in molecules(size):
        mol = Chem.MolFromSmiles(smiles)
        canonical = Chem.MolToSmiles(mol) if mol is not None else None
        if canonical is None or canonical in seen:
            continue
        seen.add(canonical)
        records.append(
            Prediction(
                input_text=smiles,
                canonical_smiles=canonical,
                model_name="bench",
                model_hash="bench",
                public=True,
                published_at=now,
                **matching.fingerprint_fields(mol),
                **blobs,
            )
        )
    Prediction.objects.bulk_create(records, batch_size=2000)
    insert_s = time.perf_counter() - start
    results = {
        "stored": Prediction.objects.count(),
        "pictures_bytes_per_row": sum(len(b) for b in blobs.values()),
        "insert_s": round(insert_s, 1),
    }
    for name, mode, query, threshold in SEARCHES:

        def call(mode=mode, query=query, threshold=threshold):
            return selectors.gallery_page(query=query, mode=mode, threshold=threshold, per_page=24)

        start = time.perf_counter()
        page, _ = call()  # the first similarity search of a process fills its cache
        first = (time.perf_counter() - start) * 1000
        results[name] = {
            "ms": round(timed(call), 1),
            "first_ms": round(first, 1),
            "matches": page.paginator.count,
        }
    setup_test_environment()  # the test client's host is allowed
    static = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    override_settings(STORAGES={**settings.STORAGES, "staticfiles": static}).enable()
    client = Client()
    url = "/gallery/?mode=similar&similarity=0.5&q=Cc1cccc(NC(%3DO)N(CCC%23N)Cc2ccccn2)c1C"
    results["gallery view, similar >= 0.5"] = {"ms": round(timed(lambda: client.get(url)), 1)}
    url = "/gallery/?mode=substructure&q=NS(%3DO)(%3DO)c1ccccc1"
    results["gallery view, substructure"] = {"ms": round(timed(lambda: client.get(url)), 1)}
    return results


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--one":
        print(json.dumps(run_one(int(sys.argv[2]), "--pictures" in sys.argv)))
        return
    pictures_too = "--pictures" in sys.argv
    for size in [int(arg) for arg in sys.argv[1:] if arg.isdigit()] or [10000, 100000]:
        out = subprocess.run(
            [sys.executable, __file__, "--one", str(size), *(["--pictures"] * pictures_too)],
            check=True,
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        print(size, out.stdout.strip().splitlines()[-1], flush=True)


if __name__ == "__main__":
    main()
