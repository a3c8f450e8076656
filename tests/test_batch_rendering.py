"""The fast PNG plot path (used for batch ZIPs) draws the same pixels as a fresh figure."""

import io

import numpy as np
import pytest
from PIL import Image

from predictions import rendering

RANGES = [{"min": -11.6, "max": 1.6, "p05": -7, "p95": 0.5}, {"min": -25, "max": 3.4}]


def _pixels(png: bytes):
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


@pytest.mark.parametrize("values", [(-3.0, -8.5), (1.2, -24.0), (5.0, 0.0), (-0.004, 3.3)])
def test_blitted_plot_matches_a_fresh_figure(values):
    outputs = [
        rendering.PlotOutput(f"Output {i}", v, "u", r)
        for i, (v, r) in enumerate(zip(values, RANGES, strict=True))
    ]
    rendering.prediction_plot_png(
        [rendering.PlotOutput(o.label, -1.0, o.unit, o.range) for o in outputs], kind="regression"
    )  # warm the cache with another value
    fast = _pixels(rendering.prediction_plot_png(outputs, kind="regression"))
    fresh = _pixels(rendering.prediction_plot(outputs, kind="regression")[0])
    assert fast.shape == fresh.shape
    assert np.abs(fast - fresh).max() <= 2  # identical up to antialiasing rounding


def test_probabilities_and_unranged_outputs_use_a_fresh_figure():
    outputs = [rendering.PlotOutput("a", 0.2), rendering.PlotOutput("b", 0.8)]
    assert rendering.prediction_plot_png(outputs, kind="probability").startswith(b"\x89PNG")
    assert rendering.prediction_plot_png(outputs, kind="regression").startswith(b"\x89PNG")
