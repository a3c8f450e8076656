"""The fast plot paths (one cached figure per layout) draw what a fresh figure draws."""

import io

import numpy as np
import pytest
from PIL import Image

from chemreport import rendering

RANGES = [{"min": -11.6, "max": 1.6, "p05": -7, "p95": 0.5}, {"min": -25, "max": 3.4}]
VALUES = [(-3.0, -8.5), (1.2, -24.0), (5.0, 0.0), (-0.004, 3.3)]


def _pixels(png: bytes):
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


def _outputs(values) -> list[rendering.PlotOutput]:
    return [
        rendering.PlotOutput(f"Output {i}", v, "u", r)
        for i, (v, r) in enumerate(zip(values, RANGES, strict=True))
    ]


@pytest.fixture(autouse=True)
def _warm_cache():
    """Draw another value first, so the cached figure's markers have to move."""
    rendering.prediction_plot_png(_outputs((-1.0, -1.0)), kind="regression")
    rendering.prediction_plot_svg(_outputs((-1.0, -1.0)), kind="regression")


@pytest.mark.parametrize("values", VALUES)
def test_blitted_png_matches_a_fresh_figure(values):
    fast = _pixels(rendering.prediction_plot_png(_outputs(values), kind="regression"))
    fresh = _pixels(rendering._fresh_png(_outputs(values), kind="regression"))
    assert fast.shape == fresh.shape
    assert np.abs(fast - fresh).max() <= 2  # identical up to antialiasing rounding


@pytest.mark.parametrize("values", VALUES)
def test_cached_svg_is_the_fresh_figures_svg(values):
    fast = rendering.prediction_plot_svg(_outputs(values), kind="regression")
    assert fast == rendering._fresh_svg(_outputs(values), kind="regression")
    assert f"{values[0]:.2f}" in fast and f"{values[1]:.2f}" in fast


def test_probabilities_and_unranged_outputs_use_a_fresh_figure():
    outputs = [rendering.PlotOutput("a", 0.2), rendering.PlotOutput("b", 0.8)]
    for kind in ("probability", "regression"):
        assert rendering.prediction_plot_png(outputs, kind=kind).startswith(b"\x89PNG")
        assert rendering.prediction_plot_svg(outputs, kind=kind).rstrip().endswith("</svg>")
