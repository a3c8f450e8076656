"""Batch throughput and memory: parse → predict → store, as the Huey worker runs it.

    python bench/bench_batch.py 1000 10000        # each size in a fresh process
    BENCH_PROFILE=0 BENCH_ZIP=0 python bench/bench_batch.py 1000   # without the RDKit profile
    python bench/bench_batch.py --compare /tmp/old 1000   # old tree and this one, ± profile
    # (run the worker's way: TORCH_THREADS=1, as scripts/run.sh starts it)

`mol_per_s` is rows over the time to "done" (profiles included); `rows_counted_mol_per_s`
over the time until every row is counted on the page (where the profiles are filled after
the predictions, batches/worker/profiles.py; the same figure otherwise).

Each size runs in its own process against a throwaway SQLite database, with the model from
settings (PREDICTION_MODEL_DIR, default checkpoints/default). It writes a CSV of distinct
drug-like amides (aryl acid × amine), uploads it through `batch_create` (validation
included), runs `batch_run` to the end, and reports mol/s, peak RSS and RSS growth during
the run. Pictures are drawn lazily (on first view), so the run stores none; the cost of
drawing them later, and of the ZIP export that draws them, is measured separately.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SUBS = [
    "",
    "F",
    "Cl",
    "Br",
    "C",
    "OC",
    "C(F)(F)F",
    "C#N",
    "N(C)C",
    "O",
    "CC",
    "S(C)(=O)=O",
    "C(N)=O",
    "OC(F)(F)F",
]
AMINES = (
    [
        f"N{c}{end}"
        for c in ("C", "CC", "CCC", "C(C)C", "CC(C)")
        for end in (
            "",
            "O",
            "F",
            "N(C)C",
            "c1ccccc1",
            "c1ccncc1",
            "C1CC1",
            "OC",
            "C(=O)O",
            "c1ccc(F)cc1",
        )
    ]
    + [
        f"N1CC{x}CC1"
        for x in ("", "N(C)", "O", "N(C(C)=O)", "C(O)", "C(C)", "N(c2ccccc2)", "C(C(N)=O)")
    ]
    + [
        "N1CCCC1",
        "N1CCC(F)(F)CC1",
        "Nc1ccccc1",
        "Nc1ccncc1",
        "NC1CCCCC1",
        "NCc1ccco1",
        "NCc1cccs1",
        "N1CCc2ccccc2C1",
        "NC1CCOCC1",
        "N(C)Cc1ccccc1",
        "NCc1ccc(Cl)cc1",
        "Nc1ccc2[nH]ccc2c1",
    ]
)
RINGS = ["c1cc({a})cc({b})c1", "c1c({a})cccc1{b}", "c1ncc({a})cc1{b}", "c1cc({a})c({b})s1"]
# Used only past the ~41,000 molecules the rings above give (the 100,000-row run), so the
# smaller sizes keep their molecules.
MORE_RINGS = [
    "c1cc({a})c({b})cc1",
    "c1c({a})cc({b})cn1",
    "c1cc({a})c({b})o1",
    "c1nc({a})c({b})s1",
    "c1cc({a})c2ccccc2c1{b}",
    "C1CC({a})CC({b})C1",
    "c1c[nH]c({a})c1{b}",
]


def molecules(count: int) -> list[str]:
    seen, out = set(), []
    for rings in (RINGS, MORE_RINGS):
        _add(rings, seen, out)
    return _distinct(out, count)


def _add(rings: list[str], seen: set, out: list) -> None:
    for amine in AMINES:
        for ring in rings:
            for a in SUBS:
                for b in SUBS:
                    text = f"O=C({ring.format(a=a, b=b)}){amine}".replace("()", "")
                    if text not in seen:
                        seen.add(text)
                        out.append(text)


def _distinct(out: list[str], count: int) -> list[str]:
    from rdkit import Chem

    canonical = {}
    for text in out:
        mol = Chem.MolFromSmiles(text)
        if mol is not None:
            canonical.setdefault(Chem.MolToSmiles(mol), text)
        if len(canonical) >= count:
            break
    if len(canonical) < count:
        raise SystemExit(f"only {len(canonical)} distinct molecules available")
    return list(canonical.values())


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def run_one(rows: int) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    os.environ.update(
        SMILES_VAR_DIR=str(tmp),
        SQLITE_PATH=str(tmp / "db.sqlite3"),
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY="bench-only",
        DJANGO_SECURE="false",
        DJANGO_SETTINGS_MODULE="smiles_site.settings",
        HUEY_SQLITE_PATH=str(tmp / "huey.sqlite3"),
    )
    if os.environ.get("BENCH_PROFILE", "1") == "0":  # nor in helper processes
        os.environ["BATCH_PROFILE_PROCESSES"] = "0"
    sys.path.insert(0, os.environ.get("BENCH_ROOT", str(ROOT)))  # --compare: another tree
    import django

    django.setup()
    from django.conf import settings
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command

    from batches.files import exports
    from batches.models import Batch
    from batches.services import batch_create, batch_run
    from predictions.models import Prediction
    from predictions.serving import get_model

    call_command("migrate", verbosity=0)
    smiles = molecules(rows)
    data = (
        "id,smiles,series\n"
        + "".join(f"CPD-{i:06d},{s},S{i % 7}\n" for i, s in enumerate(smiles, 1))
    ).encode()
    get_model()  # the worker loads the model once, before its first batch
    base_rss = rss_mb()

    start = time.perf_counter()
    batch = batch_create(upload=SimpleUploadedFile("bench.csv", data))
    validated = time.perf_counter()
    samples, seconds = [], []  # RSS and wall time of each chunk
    import batches.services as services

    original = services.process_chunk

    def sampled(**kwargs):
        began = time.perf_counter()
        result = original(**kwargs)
        seconds.append(time.perf_counter() - began)
        samples.append(rss_mb())
        return result

    services.process_chunk = sampled
    if os.environ.get("BENCH_PROFILE", "1") == "0":  # the same run without the RDKit profile
        import chemreport.profile

        chemreport.profile.profile_for_smiles = lambda smiles: {}
    visible = []  # when every row is counted (the profile pass starts), where profiles are deferred
    if hasattr(services, "_fill_profiles"):
        fill_profiles = services._fill_profiles

        def timed(*args, **kwargs):
            visible.append(time.perf_counter())
            return fill_profiles(*args, **kwargs)

        services._fill_profiles = timed
    status = batch_run(batch_pk=batch.pk)
    elapsed = time.perf_counter() - start
    rows_counted = (visible[0] if visible else start + elapsed) - start
    batch = Batch.objects.get(pk=batch.pk)
    assert status == "done" and batch.done_count == rows, (status, batch.done_count)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    # Streamed CSV export of every row.
    t = time.perf_counter()
    csv_bytes = sum(len(part) for part in exports.stream_csv(batch))
    csv_seconds = time.perf_counter() - t

    # Pictures drawn on first view (lazy): molecule + plot, PNG + SVG, for 100 molecules.
    from predictions import services as core

    sample = list(Prediction.objects.order_by("pk")[:100])
    t = time.perf_counter()
    for prediction in sample:
        core.prediction_ensure_blobs(prediction=prediction)
    draw_ms = (time.perf_counter() - t) / len(sample) * 1000

    # ZIP export: draws each molecule's PNG and plot PNG (fast path) on first download.
    zip_seconds = zip_bytes = None
    zip_rss = [0.0]
    if os.environ.get("BENCH_ZIP", "1") == "1":
        Prediction.objects.update(molecule_png=None, plot_png=None)
        zip_rss = [rss_mb()]
        t = time.perf_counter()
        zip_bytes = 0
        for count, part in enumerate(exports.stream_zip(batch)):
            zip_bytes += len(part)
            if count % 500 == 0:
                zip_rss.append(rss_mb())
        zip_seconds = time.perf_counter() - t
        zip_rss.append(rss_mb())
    again = zip_again_seconds = None
    if zip_seconds is not None:  # the second download finds every picture drawn
        t = time.perf_counter()
        again = sum(len(part) for part in exports.stream_zip(batch))
        zip_again_seconds = time.perf_counter() - t
    peak_after_exports = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    return {
        "rows": rows,
        "model": str(settings.PREDICTION_MODEL_DIR),
        "torch_threads": settings.TORCH_THREADS,
        "chunk_rows": settings.BATCH_CHUNK_ROWS,
        "profile_processes": getattr(settings, "BATCH_PROFILE_PROCESSES", None),
        "validate_s": round(validated - start, 2),
        "total_s": round(elapsed, 2),
        "mol_per_s": round(rows / elapsed, 1),
        "rows_counted_s": round(rows_counted, 2),
        "rows_counted_mol_per_s": round(rows / rows_counted, 1),
        "load_average": os.getloadavg(),
        "rss_after_model_load_mb": round(base_rss, 1),
        "rss_first_chunk_mb": round(samples[0], 1),
        "rss_last_chunk_mb": round(samples[-1], 1),
        # does a chunk take longer as the database grows? (first and last tenth of the chunks)
        "chunk_s_first_tenth": round(
            sum(seconds[: max(1, len(seconds) // 10)]) / max(1, len(seconds) // 10), 3
        ),
        "chunk_s_last_tenth": round(
            sum(seconds[-max(1, len(seconds) // 10) :]) / max(1, len(seconds) // 10), 3
        ),
        "peak_rss_mb": round(peak, 1),
        "csv_export_s": round(csv_seconds, 2),
        "csv_bytes": csv_bytes,
        "draw_on_first_view_ms_per_mol": round(draw_ms, 1),
        "zip_first_download_s": zip_seconds and round(zip_seconds, 1),
        "zip_bytes": zip_bytes,
        "zip_cached_download_s": zip_again_seconds and round(zip_again_seconds, 1),
        "zip_cached_bytes": again,
        "peak_rss_after_exports_mb": round(peak_after_exports, 1),
        "rss_during_zip_mb": [round(zip_rss[0], 1), round(max(zip_rss), 1), round(zip_rss[-1], 1)],
    }


def _run_size(size: int, root: Path = ROOT, **env: str) -> dict:
    """One size in a fresh process, in `root`'s tree (its code, settings and checkpoint)."""
    out = subprocess.run(
        [sys.executable, __file__, "--one", str(size)],
        check=True,
        capture_output=True,
        text=True,
        cwd=root,
        env={**os.environ, "BENCH_ROOT": str(root), **env},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


NO_HELPER = {"BATCH_PROFILE_PROCESSES": "0"}  # profiles computed by the worker alone


def compare(old: Path, sizes: list[int]) -> None:
    """Old tree and this one (also without profile helper processes), with and without the
    profile, back to back."""
    variants = (("old", old, {}), ("new", ROOT, {}), ("new, no helper", ROOT, NO_HELPER))
    for size in sizes:
        for profile in ("1", "0"):
            for name, root, env in variants if profile == "1" else variants[:2]:
                result = _run_size(size, root, BENCH_PROFILE=profile, BENCH_ZIP="0", **env)
                keys = ("mol_per_s", "rows_counted_mol_per_s", "total_s", "profile_processes")
                figures = ", ".join(f"{key} {result[key]}" for key in keys)
                load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
                print(f"{name} profile={profile} rows={size}: {figures}; load {load}", flush=True)


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--one":
        print(json.dumps(run_one(int(sys.argv[2]))))
        return
    if len(sys.argv) > 2 and sys.argv[1] == "--compare":
        compare(Path(sys.argv[2]).resolve(), [int(arg) for arg in sys.argv[3:]] or [1000])
        return
    for size in [int(arg) for arg in sys.argv[1:]] or [1000, 10000]:
        print(json.dumps(_run_size(size)), flush=True)


if __name__ == "__main__":
    main()
