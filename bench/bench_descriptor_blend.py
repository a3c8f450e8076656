"""Would a descriptor model beside the network help? A blend with a gradient-boosted or
random forest on RDKit descriptors (issue #8: the forest beats the network on logS and logD)

    value = (1 − β) · shipped value (v2.2: member mean + read-across) + β · descriptor model

The descriptor models are fitted on the fitting molecules of each output, β per output on
VALIDATION only (grid 0–1 by 0.05). Validation values of the shipped model are judged as at
calibration (read-across neighbours among the fitting molecules, never the molecule itself).
Test RMSE is printed for the record; the ESOL external set is not read. Also prints what the
descriptors cost per molecule, since the site would compute them for every prediction.

python bench/bench_descriptor_blend.py [--dir checkpoints/default] [--fast | --no-slow]
(--fast: only the cheap descriptors, see FAST; --no-slow: all but chemcore.descriptors.SLOW)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chemcore.checkpoint import read_manifest  # noqa: E402
from chemcore.descriptors import ALL, SLOW, from_smiles  # noqa: E402
from chemcore.readacross import blend  # noqa: E402
from training.data import make_splits  # noqa: E402
from training.evaluate import (  # noqa: E402
    predict_ensemble,
    predict_members,
    read_across_neighbours,
)

GRID = np.linspace(0.0, 1.0, 21)
# Cheap descriptors (well under a millisecond together): what the site could afford per molecule.
FAST = (
    "MolLogP MolMR TPSA MolWt HeavyAtomCount NumHDonors NumHAcceptors NumRotatableBonds "
    "RingCount NumAromaticRings FractionCSP3 NHOHCount NOCount NumHeteroatoms "
    "NumAliphaticRings LabuteASA"
).split()


def descriptors(smiles: list[str], names) -> tuple[np.ndarray, float]:
    """(n, d) descriptors as the site computes them, and the seconds per molecule they took."""
    start = time.perf_counter()
    X = from_smiles(smiles, names)
    return X, (time.perf_counter() - start) / max(len(smiles), 1)


def rmse(p, y) -> float:
    return float(np.sqrt(np.mean((np.asarray(p) - np.asarray(y)) ** 2)))


def main() -> None:
    from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor

    p = argparse.ArgumentParser()
    p.add_argument("--dir", default="checkpoints/default")
    p.add_argument("--fast", action="store_true")
    p.add_argument("--no-slow", action="store_true")
    a = p.parse_args()
    names = FAST if a.fast else ALL
    if a.no_slow:
        names = [n for n in ALL if n not in SLOW]
    splits = make_splits(seed=0)
    manifest = read_manifest(a.dir)
    members = predict_members(a.dir, splits.val_smiles).mean(axis=0)
    cost = []
    print(f"{a.dir}: {len(names)} descriptors; validation decides β")
    for t, task in enumerate(splits.test_smiles):
        fit = np.isfinite(splits.train_y[:, t])
        measured = sorted(
            (s, y) for s, y in zip(splits.train_smiles, splits.train_y[:, t]) if np.isfinite(y)
        )
        vm = np.isfinite(splits.val_y[:, t])
        val_smiles = [s for s, k in zip(splits.val_smiles, vm) if k]
        vy = splits.val_y[vm, t]
        near, nearest = read_across_neighbours(
            val_smiles, [s for s, _ in measured], [y for _, y in measured]
        )
        w = manifest.read_across_weight[t] if manifest.reads_across else 0.0
        g = manifest.read_across_power[t] if manifest.reads_across else 1.0
        vp = blend(members[vm, t], near, nearest, w, g)
        fit_smiles = [s for s, k in zip(splits.train_smiles, fit) if k]
        Xf, c1 = descriptors(fit_smiles, names)
        Xv, _ = descriptors(val_smiles, names)
        Xt, _ = descriptors(splits.test_smiles[task], names)
        cost.append(c1)
        ty = splits.test_y[task]
        tp = predict_ensemble(a.dir, splits.test_smiles[task])[0][:, t]
        print(f"\n{task}: validation n={len(vy)}, test n={len(ty)}")
        print(f"  shipped                  validation {rmse(vp, vy):.3f}   test {rmse(tp, ty):.3f}")
        for label, model in (
            ("gradient boosting", HistGradientBoostingRegressor(random_state=0, max_iter=300)),
            ("forest, 500 trees", RandomForestRegressor(500, random_state=0, n_jobs=2)),
        ):
            model.fit(Xf, splits.train_y[fit, t])
            dv, dt = model.predict(Xv), model.predict(Xt)
            beta = min(GRID, key=lambda b: rmse((1 - b) * vp + b * dv, vy))
            from scipy.stats import spearmanr

            err = np.abs((1 - beta) * vp + beta * dv - vy)
            rho = spearmanr(err, np.abs(vp - dv)).statistic
            print(f"  rho(|error of blend|, |shipped - descriptor model|) validation {rho:.3f}")
            print(
                f"  {label:24s} validation {rmse(dv, vy):.3f}   test {rmse(dt, ty):.3f}\n"
                f"  blend, β = {beta:.2f}         validation "
                f"{rmse((1 - beta) * vp + beta * dv, vy):.3f}   test "
                f"{rmse((1 - beta) * tp + beta * dt, ty):.3f}"
            )
    print(f"\ndescriptors: {1000 * float(np.mean(cost)):.2f} ms per molecule (one thread)")


if __name__ == "__main__":
    main()
