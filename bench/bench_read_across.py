"""Would read-across help the model? A blend with its nearest measured molecules (issue #8)

The site already finds each molecule's nearest measured training molecules (domain check,
σ's distance term). Read-across predicts a value from them alone: the similarity-weighted
mean of the K = 5 nearest measured values (Tanimoto, Morgan radius 2, 2,048 bits). This
study blends it with the ensemble's value,

    value = (1 − w) · model + w · kNN,   w = a           (constant)
                                         w = a · s^g     (s: the nearest neighbour's similarity)

with a (and g) fitted per output on VALIDATION only (grid search on RMSE; validation molecules
find their neighbours among the fitting molecules). Test molecules find theirs among fitting +
validation molecules, as the site does; test RMSE is printed for the record. The ESOL
external set is not read.

python bench/bench_read_across.py [--dir checkpoints/default]
(needs requirements-train.txt and the cached data archives: python -m training --fetch-data)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chemcore.similarity import bulk_similarity, fingerprint  # noqa: E402
from training.data import make_splits  # noqa: E402
from training.evaluate import predict_ensemble  # noqa: E402

K = 5
GRID = np.linspace(0.0, 1.0, 21)
POWERS = (1, 2, 4)


def knn(smiles: list[str], ref_smiles: list[str], ref_y: np.ndarray):
    """(similarity-weighted mean of the K nearest measured values, nearest similarity)."""
    from rdkit import Chem

    ref = [fingerprint(Chem.MolFromSmiles(s)) for s in ref_smiles]
    sims = np.array([bulk_similarity(Chem.MolFromSmiles(s), ref) for s in smiles])
    idx = np.argsort(-sims, axis=1)[:, :K]
    top = np.take_along_axis(sims, idx, 1)
    w = np.maximum(top, 1e-3)
    return (w * ref_y[idx]).sum(1) / w.sum(1), top[:, 0]


def rmse(p: np.ndarray, y: np.ndarray) -> float:
    return float(np.sqrt(np.mean((p - y) ** 2)))


def blend(model, near, top, a: float, g: float | None) -> np.ndarray:
    w = a if g is None else a * top**g
    return (1 - w) * model + w * near


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--dir", default="checkpoints/default")
    a = p.parse_args()
    splits = make_splits(seed=0)
    val_pred, _ = predict_ensemble(a.dir, splits.val_smiles)
    print(f"{a.dir}: RMSE of the model, kNN alone and the blends (fitted on validation)")
    for t, task in enumerate(splits.test_smiles):
        fit = np.isfinite(splits.train_y[:, t])
        fit_smiles = [s for s, k in zip(splits.train_smiles, fit) if k]
        vm = np.isfinite(splits.val_y[:, t])
        val_smiles = [s for s, k in zip(splits.val_smiles, vm) if k]
        vy, vp = splits.val_y[vm, t], val_pred[vm, t]
        vk, vs = knn(val_smiles, fit_smiles, splits.train_y[fit, t])
        const = min(GRID, key=lambda x: rmse(blend(vp, vk, vs, x, None), vy))
        scaled = min(
            ((x, g) for x in GRID for g in POWERS),
            key=lambda xg: rmse(blend(vp, vk, vs, *xg), vy),
        )
        ty = splits.test_y[task]
        tp = predict_ensemble(a.dir, splits.test_smiles[task])[0][:, t]
        ref_y = np.concatenate([splits.train_y[fit, t], vy])
        tk, ts = knn(splits.test_smiles[task], fit_smiles + val_smiles, ref_y)
        print(f"\n{task}: validation n={len(vy)}, test n={len(ty)}")
        rows = [
            ("model (shipped)", vp, tp),
            ("kNN alone", vk, tk),
            (
                f"blend, w = {const:.2f}",
                blend(vp, vk, vs, const, None),
                blend(tp, tk, ts, const, None),
            ),
            (
                f"blend, w = {scaled[0]:.2f} · s^{scaled[1]}",
                blend(vp, vk, vs, *scaled),
                blend(tp, tk, ts, *scaled),
            ),
        ]  # fmt: skip
        for label, v, te in rows:
            print(f"  {label:24s} validation {rmse(v, vy):.3f}   test (record) {rmse(te, ty):.3f}")


if __name__ == "__main__":
    main()
