"""Batch throughput on Huey + a real Redis with one, then two, `run_huey` worker processes.

Each run gets a fresh SQLite file database and a fresh redis-server (no persistence). The
workers are started, each with one torch thread and (where `taskset` exists) pinned to a core
of its own, and waited for until each has loaded the model; then `--batches` batches of
`--rows` distinct molecules are queued at once and timed until every one is done (rows
predicted and stored, RDKit profiles filled). A batch's chunks (`--chunk` rows) are leased one
by one, so two workers share even one batch (issue #24 item 2: the target is >= 1.6x):

    python bench/bench_redis_workers.py --batches 1 --rows 2000 --chunk 250 [--repeat 2]
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.redis_support import running_redis  # noqa: E402

SUBSTITUENTS = ["F", "Cl", "Br", "C", "OC", "C(F)(F)F", "C#N", "N(C)C", "O", "CC"]
AMINES = [
    f"N{'C' * k}{end}" for k in range(1, 6) for end in ["", "O", "F", "N", "C(C)C", "c1ccccc1"]
]
MOLECULES = [
    f"O=C(c1cc({a})c({b})cc1){amine}"
    for a in SUBSTITUENTS
    for b in SUBSTITUENTS
    for amine in AMINES
]


def _loaded(logs: list[Path], seconds: float = 180) -> None:
    """Wait until every worker says it loaded the model (batches/tasks.py, on start-up)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if all("Model loaded" in log.read_text(errors="replace") for log in logs):
            return
        time.sleep(0.2)
    raise RuntimeError("workers did not load the model in time")


def run(workers: int, rows: int, batches: int, chunk: int) -> float:
    with tempfile.TemporaryDirectory(prefix="bench-redis-") as tmp:
        tmp_path = Path(tmp)
        with running_redis(tmp_path) as url:
            env = {
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "smiles_site.settings_test",
                "SMILES_VAR_DIR": tmp,
                "SQLITE_PATH": str(tmp_path / "db.sqlite3"),
                "REDIS_URL": url,
                "TORCH_THREADS": "1",
                "TOKENIZERS_PARALLELISM": "false",
                "BATCH_CHUNK_ROWS": str(chunk),
                # One core each: no RDKit profile helper processes beside the worker (its
                # profile chunks compute them itself).
                "BATCH_PROFILE_PROCESSES": "0",
            }
            manage = [sys.executable, "manage.py"]
            subprocess.run([*manage, "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
            paths = [tmp_path / f"worker{i}.log" for i in range(workers)]
            logs = [path.open("wb") for path in paths]
            cores = os.cpu_count() or 1
            pin = (lambda i: ["taskset", "-c", str(i % cores)]) if shutil.which("taskset") else None
            procs = [
                subprocess.Popen(
                    [*(pin(i) if pin else []), *manage, "run_huey", "--workers", "1"],
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
                for i, log in enumerate(logs)
            ]
            try:
                _loaded(paths)
                script = (
                    "import sys, time;"
                    "from django.core.files.uploadedfile import SimpleUploadedFile as F;"
                    "from batches.services import batch_create;"
                    "from batches.tasks import run_batch;"
                    "from predictions.serving import get_model;"
                    "from batches.models import Batch, BatchChunk;"
                    "get_model();"
                    f"mols = {MOLECULES[: rows * batches]!r};"
                    f"files = [mols[i * {rows}:(i + 1) * {rows}] for i in range({batches})];"
                    "made = [batch_create(upload=F(f'b{i}.csv', ('smiles\\n' + '\\n'.join(m)).encode())) for i, m in enumerate(files)];"
                    "start = time.perf_counter();"
                    "[run_batch(str(b.pk)) for b in made];"
                    "\nwhile Batch.objects.filter(status__in=Batch.ACTIVE).exists(): time.sleep(0.05)\n"
                    "assert not Batch.objects.exclude(status='done').exists(), 'a batch failed';"
                    "took = time.perf_counter() - start;"
                    "done_by = set(BatchChunk.objects.exclude(done_by='').values_list('done_by', flat=True));"
                    "print(len({d.split(':')[1] for d in done_by}));"
                    "print(took)"
                )
                result = subprocess.run(
                    [*manage, "shell", "-c", script],
                    cwd=ROOT,
                    env=env,
                    check=True,
                    capture_output=True,
                    text=True,
                    timeout=3600,
                )
                lines = result.stdout.strip().splitlines()
                assert int(lines[-2]) == workers, f"{lines[-2]} of {workers} workers stored chunks"
                return float(lines[-1])
            finally:
                for proc in procs:
                    proc.terminate()
                    proc.wait(timeout=30)
                for log in logs:
                    log.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--batches", type=int, default=1)
    parser.add_argument("--chunk", type=int, default=250, help="BATCH_CHUNK_ROWS")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each; the best is kept")
    args = parser.parse_args()
    total = args.rows * args.batches
    assert total <= len(MOLECULES), f"at most {len(MOLECULES)} distinct molecules"
    seconds = {}
    for n in (1, 2):
        runs = [run(n, args.rows, args.batches, args.chunk) for _ in range(args.repeat)]
        print(f"{n} worker(s): " + ", ".join(f"{value:.1f} s" for value in runs), flush=True)
        seconds[n] = min(runs)
    for n, value in seconds.items():
        print(f"{n} worker(s): {total} rows in {value:.1f} s = {total / value:.0f} mol/s")
    print(f"two/one throughput ratio: {seconds[1] / seconds[2]:.2f}")


if __name__ == "__main__":
    main()
