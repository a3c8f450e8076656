"""The path that trained the shipped weights (training.offload): prepare with RDKit, train the
arms from the precomputed bundle only (RDKit blocked, as on the GPU box), finish with the
pipeline's evaluation; the result is a checkpoint the site loads, with the distance term."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chemcore import checkpoint as C

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow  # trains two tiny arms (a few minutes on 2 busy cores)
def test_offload_prepare_train_finish(tmp_path):
    pytest.importorskip("datamol")
    from training import data as D

    if not D.data_available():
        pytest.skip("data archives not cached: python -m training --fetch-data")
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    bundle, remote, out = tmp_path / "bundle", tmp_path / "remote", tmp_path / "ckpt"

    def offload(*args, extra_env=None):
        subprocess.run(
            [sys.executable, "-m", "training.offload", *args],
            cwd=ROOT, env={**env, **(extra_env or {})}, check=True, timeout=900,
        )  # fmt: skip

    offload("prepare", "--quick", "--bundle", str(bundle))
    # The GPU box has no RDKit: training (and its child processes) must run from the bundle
    # alone, so here `import rdkit` fails for them.
    blocker = tmp_path / "no-rdkit" / "rdkit"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('no RDKit on the training box')\n")
    no_rdkit = {"PYTHONPATH": os.pathsep.join([str(blocker.parent), str(ROOT)])}
    offload("train", "--bundle", str(bundle), "--out", str(remote), "--members", "2",
            extra_env=no_rdkit)  # fmt: skip
    offload(
        "finish", "--bundle", str(bundle), "--remote", str(remote), "--output", str(out),
        "--skip-rf",
    )  # fmt: skip
    manifest = C.read_manifest(out)
    assert manifest.members == ["member-0", "member-1"]
    assert len(manifest.uncertainty_scale) == 3 and len(manifest.distance_scale) == 3
    metrics = json.loads((out / C.METRICS).read_text())
    assert set(metrics["offload"]["arm_val_scores"]) == {"desc", "desc+teacher"}
    assert metrics["offload"]["arm"] == min(
        metrics["offload"]["arm_val_scores"], key=metrics["offload"]["arm_val_scores"].get
    )
    from predictions.inference import Predictor

    predictor = Predictor(out, threads=1)
    result = predictor.predict_with_uncertainty(["CCO", "c1ccccc1"])
    assert all(len(r.values) == 3 and all(s >= 0 for s in r.uncertainties) for r in result)
