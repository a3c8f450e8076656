"""The uncertainty's two factors are recovered from validation-like data (training.evaluate)."""

import numpy as np
import pytest

pytest.importorskip("scipy")

from chemcore.uncertainty import combine  # noqa: E402
from training.evaluate import fit_uncertainty, uncertainty_quality  # noqa: E402


def test_fit_recovers_spread_and_distance_factors():
    rng = np.random.RandomState(0)
    n = 4000
    spread = rng.uniform(0.05, 0.5, n)
    nearest = rng.uniform(0.1, 1.0, n)
    true = np.sqrt((2.0 * spread) ** 2 + (1.5 * (1 - nearest)) ** 2)
    y = rng.normal(0.0, true)
    a, b = fit_uncertainty(y, np.zeros(n), spread, nearest)
    assert a == pytest.approx(2.0, rel=0.1) and b == pytest.approx(1.5, rel=0.1)
    sigma = [combine(s, d, a, b) for s, d in zip(spread, nearest)]
    quality = uncertainty_quality(y, np.zeros(n), sigma)
    assert 0.87 <= quality["coverage90"] <= 0.93 and quality["unc_spearman"] > 0.3


def test_too_few_molecules_fall_back_to_the_spread_alone():
    rng = np.random.RandomState(1)
    spread = rng.uniform(0.1, 0.5, 10)
    a, b = fit_uncertainty(rng.normal(0, spread), np.zeros(10), spread, np.full(10, 0.5))
    assert b == 0.0 and a > 0
