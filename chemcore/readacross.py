"""Read-across: the ensemble's value pulled toward the nearest measured molecules.

value = (1 - w) * model + w * near, per output, where ``near`` is the similarity-weighted mean
of the K most similar molecules measured for that output (chemcore.similarity, Tanimoto on
Morgan bits), and w = weight * s ** power, with ``s`` the nearest one's similarity: the closer
a measured analogue, the more its value counts. ``weight`` and ``power`` are fitted per output
on the validation molecules only (training.readacross); weight 0 leaves the model's value.

Why: docs/studies/read-across.md. Calibration in training and chemcore.model's postprocess
both call this.
"""

from __future__ import annotations

import numpy as np

K = 5
MIN_WEIGHT = 1e-3  # a neighbour with similarity 0 still counts a little (never divide by 0)


def neighbour_mean(sims: np.ndarray, values: np.ndarray, k: int = K) -> tuple:
    """(similarity-weighted mean of the k most similar values, the nearest similarity).

    ``sims`` (m,) or (n, m): similarity to each molecule measured for the output, whose
    measured ``values`` are (m,). Ties keep the reference order (the site's training_set.csv
    order), so training and serving pick the same neighbours. Returns floats for one molecule,
    arrays of n for a matrix.
    """
    sims = np.asarray(sims, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    if sims.ndim == 1:
        top = top_k(sims, k)
    else:
        top = np.argsort(-sims, axis=-1, kind="stable")[..., :k]
    near_sims = np.take_along_axis(sims, top, axis=-1)
    weights = np.maximum(near_sims, MIN_WEIGHT)
    mean = (weights * values[top]).sum(axis=-1) / weights.sum(axis=-1)
    nearest = near_sims[..., 0]
    if sims.ndim == 1:
        return float(mean), float(nearest)
    return mean, nearest


def top_k(sims: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest of ``sims`` (1-D), ties in index order: the first k of a
    stable argsort of -sims, without sorting all of them (a serving molecule is compared
    with thousands of training molecules)."""
    if sims.shape[0] <= k:
        return np.argsort(-sims, kind="stable")[:k]
    kth = np.partition(sims, sims.shape[0] - k)[sims.shape[0] - k]  # the k-th largest
    candidates = np.flatnonzero(sims >= kth)  # index order
    return candidates[np.argsort(-sims[candidates], kind="stable")[:k]]


def blend(value, near, nearest, weight: float, power: float):
    """(1 - w) * value + w * near with w = weight * nearest ** power (floats or arrays)."""
    w = weight * np.power(nearest, power)
    return (1.0 - w) * value + w * near
