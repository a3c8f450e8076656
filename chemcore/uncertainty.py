"""How an ensemble's uncertainty is composed, shared by training (calibration) and serving.

sigma = sqrt((scale * member_std)^2 + (error_scale * error)^2 + (distance_scale * (1 -
nearest))^2), per output, where ``nearest`` is the Tanimoto similarity (chemcore.similarity) of
the molecule to the most similar training molecule measured for that output and ``error`` the
error model's predicted |error| (trees on the descriptor rows, fitted on out-of-fold errors of
the descriptor model over the training rows; 0 below zero; absent in older checkpoints). The
member spread alone ranks errors poorly on new chemistry (members share one pre-trained start);
the other two terms add what it misses. The factors are fitted on the validation molecules only
(Gaussian likelihood, then the split-conformal size). The network composes the first two
(`with_error`), the domain check adds the distance term (`combine`).
"""

from __future__ import annotations

import math


def combine(spread: float, nearest: float | None, scale: float, distance_scale: float) -> float:
    """The calibrated sigma of one output (``nearest`` None: no distance term)."""
    base = (scale * spread) ** 2
    if nearest is not None and distance_scale:
        base += (distance_scale * (1.0 - nearest)) ** 2
    return math.sqrt(base)


def with_error(spread, error, error_scale):
    """sqrt(spread^2 + (error_scale * max(error, 0))^2), elementwise (NumPy arrays: (n, outputs)
    with (outputs,) factors); an output without an error model (NaN) adds nothing."""
    import numpy as np

    error = np.nan_to_num(np.asarray(error, np.float64), nan=0.0)
    term = np.asarray(error_scale, dtype=np.float64) * np.maximum(error, 0.0)
    return np.sqrt(np.asarray(spread, np.float64) ** 2 + term**2)
