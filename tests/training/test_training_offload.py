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

ROOT = Path(__file__).resolve().parents[2]


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
    n_out = len(D.TASKS)
    assert len(manifest.uncertainty_scale) == n_out and len(manifest.distance_scale) == n_out
    metrics = json.loads((out / C.METRICS).read_text())
    assert set(metrics["offload"]["arm_val_scores"]) == {"desc", "desc+teacher"}
    assert metrics["offload"]["arm"] == min(
        metrics["offload"]["arm_val_scores"], key=metrics["offload"]["arm_val_scores"].get
    )
    # A fine-tuning lever: start every arm from that pre-trained encoder, skip pre-training.
    tuned, out2 = tmp_path / "tuned", tmp_path / "ckpt2"
    offload("train", "--bundle", str(bundle), "--out", str(tuned), "--members", "2",
            "--arms", "desc-label", "--pretrained", str(remote / "desc" / "pretrained.pt"),
            extra_env=no_rdkit)  # fmt: skip
    assert (tuned / "desc-label" / "pretrained.pt").read_bytes() == (
        remote / "desc" / "pretrained.pt"
    ).read_bytes()
    offload("finish", "--bundle", str(bundle), "--remote", str(tuned), "--output", str(out2),
            "--skip-rf", "--start-note", "the earlier call's")  # fmt: skip
    tuned_metrics = json.loads((out2 / C.METRICS).read_text())
    assert tuned_metrics["train_config"]["task_weighting"] == "label"
    assert tuned_metrics["offload"]["pretrained_from"] == "the earlier call's"
    card = (out2 / C.CARD).read_text()
    assert "1 fine-tuning arm was trained from one pre-trained start, that of an earlier" in card
    assert "(the earlier call's)" in card
    assert "each label counts once" in card

    from chemcore.model import Model

    model = Model.load(out, threads=1)
    result = model.predict(["CCO", "c1ccccc1"])
    assert all(len(r.values) == len(D.TASKS) and min(r.uncertainties) >= 0 for r in result)


def test_descall_targets_keep_the_descriptor_geometry(tmp_path):
    """All 217 descriptors travel as PCA scores; the pre-training loss on them must weigh each
    direction by its variance (not whiten it away), and other blocks are z-scored per column."""
    import gzip
    import pickle

    import numpy as np

    from training import offload

    rng = np.random.RandomState(0)
    n = 400
    latent = rng.normal(size=(n, 3)) * [5.0, 1.0, 0.2]  # three directions, falling variance
    X = latent @ rng.normal(size=(3, 30)) + 0.01 * rng.normal(size=(n, 30))
    X[:, 7] = 1.0  # a constant column is dropped
    np.save(tmp_path / "all.npy", X)
    with gzip.open(tmp_path / "bundle.pkl.gz", "wb") as f:
        pickle.dump({"corpus": [f"C{i}" for i in range(n)]}, f)

    offload.add_descall(tmp_path, components=5, precomputed=tmp_path / "all.npy")
    info = json.loads((tmp_path / "descall.json").read_text())
    assert info["descriptors"] == 29 and info["components"] == 5
    assert info["explained_variance"] > 0.99  # three real directions fit in five
    scores = np.load(tmp_path / "descall.npy")
    assert scores.dtype == np.float16 and scores.shape == (n, 5)

    desc = rng.normal(size=(n, 2)) * [100.0, 0.01] + 3.0
    t = offload._targets({"desc": desc, "teacher": None}, tmp_path, ["descall", "desc"])
    block, z = t[:, :5], t[:, 5:]
    np.testing.assert_allclose(z.mean(0), 0, atol=1e-6)
    np.testing.assert_allclose(z.std(0), 1, rtol=1e-5)
    np.testing.assert_allclose(block.mean(0), 0, atol=1e-3)
    assert block.var(0).sum() == pytest.approx(5, rel=1e-3)  # the block weighs its width
    var = block.var(0)
    assert var[0] > 4 * var[1] > 16 * var[2]  # ...spread by variance, not whitened
    assert var[3] < 1e-3 * var[0]  # noise directions weigh next to nothing
    with pytest.raises(SystemExit, match="no teacher"):
        offload._targets({"teacher": None}, tmp_path, ["teacher"])


def test_offload_arms_carry_their_own_overrides():
    from training import offload

    b = {"config": offload.full_config().to_dict()}
    deep = offload._config(b, "descall-deep", "cpu", {"time_budget_s": 5})
    assert (deep.layers, deep.intermediate, deep.time_budget_s) == (4, 512, 5)
    assert deep.pretrain_standardise is False  # _targets scales them
    assert offload._config(b, "desc", "cpu", {"layers": 2}).layers == 2  # caller wins
    assert offload._config(b, "descall-long", "cpu", {}).pretrain_batch == 256
