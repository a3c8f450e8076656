"""Would the trees' own spread make σ rank errors better? (issue #8: Spearman(|error|, σ) ≥ 0.3)

The shipped value (v2.3) is mostly the descriptor model's on logD7.4 (β = 0.85), yet σ is
built from the network members' spread and the distance to the nearest measured molecule.
This fits K boosted-tree models on bootstrap resamples of the fitting molecules (seeds 0..K-1,
the shipped settings otherwise) and adds their standard deviation as a third term,

    σ² = (a · member SD)² + (b · (1 − s))² + (c · tree SD)²,

a, b, c fitted by Gaussian likelihood on VALIDATION (values judged as at calibration:
neighbours among the fitting molecules), then scaled to cover 90 % of validation. Prints
Spearman(|error|, σ) and coverage on validation and, for the record, on the test sets. ESOL
is not read.

python bench/bench_tree_uncertainty.py [--dir checkpoints/default] [--k 5]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chemcore import descriptor_model as DM  # noqa: E402
from chemcore.checkpoint import read_manifest  # noqa: E402
from chemcore.readacross import blend  # noqa: E402
from training.data import full_descriptors, make_splits  # noqa: E402
from training.evaluate import (  # noqa: E402
    Z90,
    calibration_scale,
    predict_ensemble,
    predict_members,
    read_across_neighbours,
    training_neighbours,
    uncertainty_quality,
)


def fit3(y, p, terms) -> np.ndarray:
    """Factors on each σ term (columns of `terms`) by Gaussian likelihood, then scaled so
    that ±1.645 σ covers 90 % of `y`."""
    from scipy.optimize import minimize

    err2 = (np.asarray(p) - np.asarray(y)) ** 2
    terms = np.maximum(np.asarray(terms, float), 1e-6)

    def nll(theta):
        var = ((np.exp(theta)[None, :] * terms) ** 2).sum(axis=1) + 1e-9
        return float(np.sum(0.5 * np.log(var) + 0.5 * err2 / var))

    start = np.log(np.full(terms.shape[1], max(np.sqrt(err2.mean()), 1e-3)))
    best = minimize(nll, start, method="Nelder-Mead", options={"xatol": 1e-4, "maxiter": 4000})
    coef = np.exp(best.x)
    k = calibration_scale(y, p, np.sqrt(((coef[None, :] * terms) ** 2).sum(axis=1)))
    return coef * k


def sigma(coef, terms) -> np.ndarray:
    return np.sqrt(((np.asarray(coef)[None, :] * np.asarray(terms)) ** 2).sum(axis=1))


def main() -> None:
    from sklearn.ensemble import HistGradientBoostingRegressor

    p = argparse.ArgumentParser()
    p.add_argument("--dir", default="checkpoints/default")
    p.add_argument("--k", type=int, default=5)
    a = p.parse_args()
    splits = make_splits(seed=0)
    manifest = read_manifest(a.dir)
    shipped = DM.read(Path(a.dir) / manifest.descriptor_model)
    names = shipped.descriptors
    members = predict_members(a.dir, splits.val_smiles)
    mean, spread = members.mean(axis=0), members.std(axis=0)
    Xtrain = full_descriptors(splits.train_smiles, names)
    Xval = full_descriptors(splits.val_smiles, names)
    trees_val = shipped.predict(Xval)
    print(f"{a.dir}: σ terms fitted on validation; K = {a.k} bootstrap tree models")
    for t, task in enumerate(splits.test_smiles):
        fit = np.isfinite(splits.train_y[:, t])
        vm = np.isfinite(splits.val_y[:, t])
        y = splits.val_y[vm, t]
        beta = manifest.descriptor_weight[t]
        value = (1 - beta) * mean[vm, t] + beta * np.nan_to_num(trees_val[vm, t])
        measured = sorted(
            (s, v) for s, v in zip(splits.train_smiles, splits.train_y[:, t]) if np.isfinite(v)
        )
        near, nearest = read_across_neighbours(
            [s for s, k in zip(splits.val_smiles, vm) if k],
            [s for s, _ in measured],
            [v for _, v in measured],
        )
        if manifest.reads_across:
            w, g = manifest.read_across_weight[t], manifest.read_across_power[t]
            value = blend(value, near, nearest, w, g)
        rng = np.random.RandomState(0)
        Xf, yf = Xtrain[fit], splits.train_y[fit, t]
        boot = []
        for k in range(a.k):
            pick = rng.randint(0, len(yf), len(yf))
            model = HistGradientBoostingRegressor(random_state=k, max_iter=300)
            boot.append(model.fit(Xf[pick], yf[pick]))
        tree_sd_val = np.std([m.predict(Xval[vm]) for m in boot], axis=0)
        two = np.stack([spread[vm, t], 1 - nearest], axis=1)
        three = np.stack([spread[vm, t], 1 - nearest, tree_sd_val], axis=1)
        c2, c3 = fit3(y, value, two), fit3(y, value, three)
        # Test, for the record: the shipped value and σ terms as the site computes them.
        ts, ty = splits.test_smiles[task], splits.test_y[task]
        tvalue, _ = predict_ensemble(a.dir, ts)
        tmembers = predict_members(a.dir, ts)
        _, tnearest = training_neighbours(a.dir, ts)
        Xtest = full_descriptors(ts, names)
        tree_sd_test = np.std([m.predict(Xtest) for m in boot], axis=0)
        tt2 = np.stack([tmembers.std(axis=0)[:, t], 1 - tnearest[:, t]], axis=1)
        tt3 = np.stack([tmembers.std(axis=0)[:, t], 1 - tnearest[:, t], tree_sd_test], axis=1)
        print(f"\n{task}: validation n={len(y)}, test n={len(ty)}")
        for label, coef, vterms, tterms in (
            ("spread + distance", c2, two, tt2),
            ("+ tree SD", c3, three, tt3),
        ):
            qv = uncertainty_quality(y, value, sigma(coef, vterms))
            qt = uncertainty_quality(ty, tvalue[:, t], sigma(coef, tterms))
            print(
                f"  {label:18s} coef {np.round(coef, 3)}  validation rho {qv['unc_spearman']:.3f}"
                f" cover {100 * qv['coverage90']:.1f} % | test (record) rho "
                f"{qt['unc_spearman']:.3f} cover {100 * qt['coverage90']:.1f} %"
            )
    print(f"\n(nominal coverage {Z90} σ = 90 %)")


if __name__ == "__main__":
    main()
