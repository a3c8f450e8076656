"""Would more per-molecule features make the uncertainty rank errors better? (issue #8)

The shipped σ combines the ensemble's spread with the distance to the nearest measured training
molecule (chemcore.uncertainty). This study adds two cheap neighbour features the domain check
could compute at serving time from the shipped training_set.csv:

- disagree: |model − kNN|, the model's distance from the similarity-weighted mean of the five
  nearest measured molecules (a model that departs from its neighbours is more often wrong);
- nbr_sd: how much those five neighbours' measured values differ among themselves.

Each combination is fitted on validation only (Gaussian likelihood for the mix, then scaled to
90 % validation coverage, as `training.evaluate.fit_uncertainty`); test molecules find their
neighbours among train + validation, as the site does. Prints Spearman(|error|, σ) and the
coverage of ±1.645 σ per test set. ESOL is printed for the record, never used to choose.

python bench/bench_uncertainty_features.py [--dir checkpoints/default]
(needs requirements-train.txt and the cached data archives: python -m training fetch-data)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chemcore.similarity import bulk_similarity, fingerprint  # noqa: E402
from training.data import make_splits  # noqa: E402
from training.evaluate import Z90, calibration_scale, predict_ensemble, uncertainty_quality  # noqa: E402

K = 5
COMBOS = {
    "spread + distance (shipped)": ("spread", "distance"),
    "spread + distance + disagree": ("spread", "distance", "disagree"),
    "spread + distance + nbr_sd": ("spread", "distance", "nbr_sd"),
    "all four": ("spread", "distance", "disagree", "nbr_sd"),
}


def neighbour_features(smiles, mean, spread, ref_smiles, ref_y) -> dict[str, np.ndarray]:
    from rdkit import Chem

    ref = [fingerprint(Chem.MolFromSmiles(s)) for s in ref_smiles]
    sims = np.array([bulk_similarity(Chem.MolFromSmiles(s), ref) for s in smiles])
    idx = np.argsort(-sims, axis=1)[:, :K]
    top = np.take_along_axis(sims, idx, 1)
    w = np.maximum(top, 1e-3)
    knn = (w * ref_y[idx]).sum(1) / w.sum(1)
    return {
        "spread": np.maximum(spread, 1e-6),
        "distance": 1.0 - top[:, 0],
        "disagree": np.abs(mean - knn),
        "nbr_sd": np.sqrt((w * (ref_y[idx] - knn[:, None]) ** 2).sum(1) / w.sum(1)),
    }


def fit(err: np.ndarray, columns: list[np.ndarray]) -> np.ndarray:
    from scipy.optimize import minimize

    err2 = err**2

    def nll(theta):
        var = sum((np.exp(a) * f) ** 2 for a, f in zip(theta, columns)) + 1e-9
        return float(np.sum(0.5 * np.log(var) + 0.5 * err2 / var))

    start = np.log(np.full(len(columns), max(np.sqrt(err2.mean()), 1e-3)))
    best = minimize(nll, start, method="Nelder-Mead", options={"maxiter": 4000, "xatol": 1e-5})
    coef = np.exp(best.x)
    sigma = np.sqrt(sum((c * f) ** 2 for c, f in zip(coef, columns)))
    return coef * calibration_scale(err, np.zeros_like(err), sigma)


def sigma_of(coef, features, names) -> np.ndarray:
    return np.sqrt(sum((c * features[n]) ** 2 for c, n in zip(coef, names)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", default="checkpoints/default")
    args = parser.parse_args()
    splits = make_splits(seed=0)
    tasks = list(splits.test_smiles)
    val_mean, val_spread = predict_ensemble(args.dir, splits.val_smiles)
    print(f"checkpoint {args.dir}; Spearman(|error|, σ) and coverage of ±{Z90} σ")
    for t, task in enumerate(tasks):
        fit_mask = np.isfinite(splits.train_y[:, t])
        train_smiles = [s for s, k in zip(splits.train_smiles, fit_mask) if k]
        val_mask = np.isfinite(splits.val_y[:, t])
        val_smiles = [s for s, k in zip(splits.val_smiles, val_mask) if k]
        val = neighbour_features(
            val_smiles,
            val_mean[val_mask, t],
            val_spread[val_mask, t],
            train_smiles,
            splits.train_y[fit_mask, t],
        )
        val_err = val_mean[val_mask, t] - splits.val_y[val_mask, t]
        served_smiles = train_smiles + val_smiles  # the site's training_set.csv
        served_y = np.concatenate([splits.train_y[fit_mask, t], splits.val_y[val_mask, t]])
        sets = {"test": (splits.test_smiles[task], splits.test_y[task])}
        if t == 0:
            sets["ESOL (record only)"] = (splits.external_smiles, splits.external_y)
        scored = {}
        for name, (smiles, y) in sets.items():
            mean, spread = predict_ensemble(args.dir, smiles)
            scored[name] = (
                y,
                mean[:, t],
                neighbour_features(smiles, mean[:, t], spread[:, t], served_smiles, served_y),
            )
        print(f"\n{task} (validation n={int(val_mask.sum())})")
        for label, names in COMBOS.items():
            coef = fit(val_err, [val[n] for n in names])
            cells = []
            for name, (y, p, feats) in scored.items():
                q = uncertainty_quality(y, p, sigma_of(coef, feats, names))
                cells.append(
                    f"{name}: rho {q['unc_spearman']:.3f}, cover {100 * q['coverage90']:.1f} %"
                )
            print(f"  {label:30s} coef {np.round(coef, 3)}  " + " | ".join(cells))


if __name__ == "__main__":
    main()
