"""Ctrl-C on ./scripts/run.sh reaches the batch worker's RDKit helper processes too (one
process group in the terminal): they ignore it, so no KeyboardInterrupt traceback, and leave
when the worker does."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow  # starts a spawned helper process

CODE = """
import multiprocessing, os, signal
from concurrent.futures import ProcessPoolExecutor
from chemreport import profile

if __name__ == "__main__":
    # As in a terminal: Ctrl-C not ignored (a background job of a script inherits SIG_IGN).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    pool = ProcessPoolExecutor(
        1, mp_context=multiprocessing.get_context("spawn"),
        initializer=profile.start_helper, initargs=(os.getpid(),),
    )
    found = pool.submit(signal.getsignal, signal.SIGINT).result()
    print("ignored", found == signal.SIG_IGN, flush=True)
    pool.shutdown()
"""


def test_profile_helper_ignores_ctrl_c():
    done = subprocess.run(
        [sys.executable, "-c", CODE], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ignored True"


def test_rdkit_budget_helper_ignores_ctrl_c():
    """chemreport/bounded.py's helpers (layouts, searches) run beside the web process and the
    worker: the same quiet exit."""
    from rdkit import Chem

    from chemreport import bounded

    bounded.call("highlight", "CCO", Chem.MolFromSmarts("CO").ToBinary(), 10, budget=30)
    pid = bounded._idle[-1].process.pid
    status = Path(f"/proc/{pid}/status").read_text()
    ignored = int(
        next(line for line in status.splitlines() if line.startswith("SigIgn:")).split()[1], 16
    )
    assert ignored & (1 << (2 - 1)), "SIGINT (2) is not ignored by the helper"
