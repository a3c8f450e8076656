"""Batch throughput on Huey + a real Redis with one, then two, `run_huey` worker processes.

Each run gets a fresh SQLite file database and a fresh redis-server (no persistence). The
workers are started and loaded first; then `--batches` batches of `--rows` distinct molecules
are queued at once and timed until every one is done. A batch is held by one worker at a time
(its lease), so a second worker speeds up several batches, not one.

    python bench/bench_redis_workers.py [--rows 1000] [--batches 2]
"""

import argparse
import os
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


def run(workers: int, rows: int, batches: int) -> float:
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
            }
            manage = [sys.executable, "manage.py"]
            subprocess.run([*manage, "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
            logs = [(tmp_path / f"worker{i}.log").open("wb") for i in range(workers)]
            procs = [
                subprocess.Popen(
                    [*manage, "run_huey", "--workers", "1"],
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
                for log in logs
            ]
            try:
                time.sleep(3)
                script = (
                    "import sys, time;"
                    "from django.core.files.uploadedfile import SimpleUploadedFile as F;"
                    "from predictions.batch.services import batch_create;"
                    "from predictions.tasks import run_batch;"
                    "from predictions.serving import get_model;"
                    "from predictions.models import Batch;"
                    "get_model();"
                    f"mols = {MOLECULES[: rows * batches]!r};"
                    f"files = [mols[i * {rows}:(i + 1) * {rows}] for i in range({batches})];"
                    "made = [batch_create(upload=F(f'b{i}.csv', ('smiles\\n' + '\\n'.join(m)).encode())) for i, m in enumerate(files)];"
                    "start = time.perf_counter();"
                    "[run_batch(str(b.pk)) for b in made];"
                    "\nwhile Batch.objects.exclude(status='done').exists(): time.sleep(0.1)\n"
                    "print(time.perf_counter() - start)"
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
                return float(result.stdout.strip().splitlines()[-1])
            finally:
                for proc in procs:
                    proc.terminate()
                    proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--batches", type=int, default=2)
    args = parser.parse_args()
    total = args.rows * args.batches
    assert total <= len(MOLECULES), f"at most {len(MOLECULES)} distinct molecules"
    seconds = {n: run(n, args.rows, args.batches) for n in (1, 2)}
    for n, value in seconds.items():
        print(f"{n} worker(s): {total} rows in {value:.1f} s = {total / value:.0f} mol/s")
    print(f"two/one throughput ratio: {seconds[1] / seconds[2]:.2f}")


if __name__ == "__main__":
    main()
