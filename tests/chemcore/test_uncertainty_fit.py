"""The uncertainty's two factors are recovered from validation-like data (training.evaluate)."""

import numpy as np
import pytest

pytest.importorskip("scipy")

from chemcore.uncertainty import combine  # noqa: E402
from training.evaluate import distance_share, fit_uncertainty, uncertainty_quality  # noqa: E402


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


def test_too_few_molecules_borrow_the_shape_the_others_were_fitted_with():
    """17 molecules (ΔG_hyd's validation) cannot fix two factors: with the other outputs'
    median share of the distance term, the distance term takes that share here too, and the
    size still comes from these molecules (at least 90 % of them inside ± 1.645 σ)."""
    rng = np.random.RandomState(2)
    spread, nearest = rng.uniform(0.1, 0.5, 17), rng.uniform(0.2, 0.9, 17)
    y = rng.normal(0.0, np.sqrt(spread**2 + (1 - nearest) ** 2))
    a, b = fit_uncertainty(y, np.zeros(17), spread, nearest, share=0.6)
    assert b > 0 and distance_share(spread, nearest, a, b) == pytest.approx(0.6, abs=1e-6)
    sigma = [combine(s, d, a, b) for s, d in zip(spread, nearest)]
    assert uncertainty_quality(y, np.zeros(17), sigma)["coverage90"] >= 0.9
    assert fit_uncertainty([], [], [], [], share=0.6) == (1.0, 0.0)  # nothing to size on
