"""The uncertainty's two factors are recovered from validation-like data (training.evaluate)."""

import numpy as np
import pytest

pytest.importorskip("scipy")

from chemcore.uncertainty import combine, with_error  # noqa: E402
from training.evaluate import (  # noqa: E402
    distance_share,
    fit_uncertainty_terms,
    term_shares,
    uncertainty_quality,
)


def test_fit_recovers_spread_and_distance_factors():
    rng = np.random.RandomState(0)
    n = 4000
    spread = rng.uniform(0.05, 0.5, n)
    nearest = rng.uniform(0.1, 1.0, n)
    true = np.sqrt((2.0 * spread) ** 2 + (1.5 * (1 - nearest)) ** 2)
    y = rng.normal(0.0, true)
    a, b, _ = fit_uncertainty_terms(y, np.zeros(n), spread, nearest)
    assert a == pytest.approx(2.0, rel=0.1) and b == pytest.approx(1.5, rel=0.1)
    sigma = [combine(s, d, a, b) for s, d in zip(spread, nearest)]
    quality = uncertainty_quality(y, np.zeros(n), sigma)
    assert 0.87 <= quality["coverage90"] <= 0.93 and quality["unc_spearman"] > 0.3


def test_too_few_molecules_fall_back_to_the_spread_alone():
    rng = np.random.RandomState(1)
    spread = rng.uniform(0.1, 0.5, 10)
    a, b, _ = fit_uncertainty_terms(rng.normal(0, spread), np.zeros(10), spread, np.full(10, 0.5))
    assert b == 0.0 and a > 0


def test_too_few_molecules_borrow_the_shape_the_others_were_fitted_with():
    """17 molecules (ΔG_hyd's validation) cannot fix two factors: with the other outputs'
    median share of the distance term, the distance term takes that share here too, and the
    size still comes from these molecules (at least 90 % of them inside ± 1.645 σ)."""
    rng = np.random.RandomState(2)
    spread, nearest = rng.uniform(0.1, 0.5, 17), rng.uniform(0.2, 0.9, 17)
    y = rng.normal(0.0, np.sqrt(spread**2 + (1 - nearest) ** 2))
    a, b, _ = fit_uncertainty_terms(y, np.zeros(17), spread, nearest, share=0.6)
    assert b > 0 and distance_share(spread, nearest, a, b) == pytest.approx(0.6, abs=1e-6)
    sigma = [combine(s, d, a, b) for s, d in zip(spread, nearest)]
    assert uncertainty_quality(y, np.zeros(17), sigma)["coverage90"] >= 0.9
    assert fit_uncertainty_terms([], [], [], [], share=0.6)[:2] == (1.0, 0.0)  # nothing to size on


def test_fit_recovers_an_error_model_term_and_serving_composes_it_the_same_way():
    """With an error model whose predictions carry real information, the fit gives it weight,
    and σ composed as the site composes it (spread and error in the network, distance in the
    domain check) covers about 90 %."""
    rng = np.random.RandomState(3)
    n = 4000
    spread, nearest = rng.uniform(0.05, 0.3, n), rng.uniform(0.2, 1.0, n)
    error = rng.uniform(0.1, 2.0, n)  # what the error model predicts
    true = np.sqrt((1.0 * spread) ** 2 + (0.8 * (1 - nearest)) ** 2 + (1.2 * error) ** 2)
    y = rng.normal(0.0, true)
    a, b, c = fit_uncertainty_terms(y, np.zeros(n), spread, nearest, error)
    assert c == pytest.approx(1.2, rel=0.15) and b == pytest.approx(0.8, rel=0.25)
    inner = with_error((a * spread)[:, None], error[:, None], [c])[:, 0]
    sigma = [combine(s, d, 1.0, b) for s, d in zip(inner, nearest)]
    quality = uncertainty_quality(y, np.zeros(n), sigma)
    assert 0.87 <= quality["coverage90"] <= 0.93 and quality["unc_spearman"] > 0.4
    # an output without an error model (NaN) adds nothing; below zero counts as zero
    assert with_error(np.array([[0.3, 0.4]]), np.array([[np.nan, -1.0]]), [2.0, 2.0]).tolist() == [
        [0.3, 0.4]
    ]


def test_too_few_molecules_borrow_both_shares_with_an_error_model():
    """With an error model too, a small output's distance and error terms take the shares of
    σ² the fitted outputs give them (median molecule), and the size is its own."""
    rng = np.random.RandomState(4)
    spread, nearest = rng.uniform(0.1, 0.5, 17), rng.uniform(0.2, 0.9, 17)
    error = rng.uniform(0.2, 1.5, 17)
    y = rng.normal(0.0, np.sqrt(spread**2 + (1 - nearest) ** 2 + error**2))
    a, b, c = fit_uncertainty_terms(y, np.zeros(17), spread, nearest, error, 0.3, 0.5)
    assert b > 0 and c > 0
    shares = term_shares(spread, nearest, a, b, error, c)
    assert shares == pytest.approx((0.3, 0.5), abs=1e-3)
    inner = with_error((a * spread)[:, None], error[:, None], [c])[:, 0]
    sigma = [combine(s, d, 1.0, b) for s, d in zip(inner, nearest)]
    assert uncertainty_quality(y, np.zeros(17), sigma)["coverage90"] >= 0.9
