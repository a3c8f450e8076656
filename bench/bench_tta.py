"""Would test-time augmentation (randomised SMILES at inference) help accuracy or σ? (issue #8)

SMILES models are often averaged over several randomised SMILES of one molecule, and the
spread over those variants is a cheap uncertainty signal. This runs every shipped member on
the canonical SMILES plus K randomised ones (seeded) of each VALIDATION molecule and prints,
per output: RMSE of the canonical member mean (what the site serves) and of the mean over
members and variants, and Spearman(|error|, spread) for the member spread (canonical), the
spread over variants and the spread over all member × variant predictions.
Validation only: it decides whether serving K times the inference is worth it; no test or
external molecule is read.

python bench/bench_tta.py [--dir checkpoints/default] [--k 4 8 16]
(needs requirements-train.txt and the cached data archives: python -m training --fetch-data)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training.data import SHORT, make_splits, randomized_smiles  # noqa: E402
from training.evaluate import load_checkpoint, member_dirs, predict_checkpoint  # noqa: E402


def main() -> None:
    from scipy.stats import spearmanr

    p = argparse.ArgumentParser()
    p.add_argument("--dir", default="checkpoints/default")
    p.add_argument("--k", type=int, nargs="+", default=[4, 8, 16])
    a = p.parse_args()
    import torch

    torch.set_num_threads(1)
    splits = make_splits(seed=0)
    smiles, y = splits.val_smiles, splits.val_y
    kmax = max(a.k)
    rng = np.random.RandomState(0)
    flat = [v for s in smiles for v in [s] + [randomized_smiles(s, rng) for _ in range(kmax)]]
    t0 = time.time()
    dirs = member_dirs(a.dir)
    P = np.stack([predict_checkpoint(*load_checkpoint(d), flat, batch=128) for d in dirs])
    P = P.reshape(len(dirs), len(smiles), kmax + 1, -1)  # member, molecule, variant, output
    print(f"{a.dir}: {len(dirs)} members x {kmax + 1} SMILES x {len(smiles)} validation "
          f"molecules ({time.time() - t0:.0f} s)")  # fmt: skip
    for t, name in enumerate(SHORT):
        m = np.isfinite(y[:, t])
        yy = y[m, t]
        Q = P[:, m][..., t]  # member, molecule, variant

        def rmse(pred, yy=yy):
            return float(np.sqrt(np.mean((pred - yy) ** 2)))

        def rho(pred, sigma, yy=yy):
            return float(spearmanr(np.abs(pred - yy), sigma).statistic)

        canonical = Q[:, :, 0].mean(0)
        print(f"\n{name} (n={m.sum()}): canonical RMSE {rmse(canonical):.3f}, "
              f"rho member spread {rho(canonical, Q[:, :, 0].std(0)):.3f}")  # fmt: skip
        for k in a.k:
            tta = Q[:, :, : k + 1].mean((0, 2))
            over_variants = Q[:, :, 1 : k + 1].mean(0).std(1)
            over_all = Q[:, :, : k + 1].transpose(1, 0, 2).reshape(len(yy), -1).std(1)
            print(f"  K={k:2d}: RMSE {rmse(tta):.3f}, rho variant spread "
                  f"{rho(tta, over_variants):.3f}, rho all spread {rho(tta, over_all):.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
