"""Plots whose value ± σ reaches past the training range: the axis widens in quarter-range
steps, so they share cached layouts and still draw exactly what a fresh figure draws."""

import io

import numpy as np
import pytest
from PIL import Image

from chemreport import rendering

RANGE = {"min": -10.0, "max": 2.0, "p05": -7.0, "p95": 0.5}  # span 12: steps of 3


@pytest.fixture(autouse=True)
def _no_kept_layouts():
    """Start with no cached layout (other tests' plots may fill this thread's cache)."""
    rendering.kept_layouts().clear()


def _outputs(value: float, sigma: float | None = 1.0) -> list[rendering.PlotOutput]:
    return [
        rendering.PlotOutput("logS", value, "log(mol/L)", RANGE, sigma),
        rendering.PlotOutput("dG", -3.0, "kcal/mol", {"min": -25.0, "max": 3.0}, 0.5),
    ]


def test_limits_are_the_range_or_widened_in_quarter_steps():
    padding = 0.05 * 12
    inside = rendering.x_limits(_outputs(-4.0)[0])
    assert inside == (-10.0 - padding, 2.0 + padding)
    # 2.5 + 1 = 3.5 passes the top by 1.5: one step of 3.
    assert rendering.x_limits(_outputs(2.5)[0]) == (-10.0 - padding, 5.0 + padding)
    # -16.5 - 1 = -17.5 passes the bottom by 7.5: three steps.
    assert rendering.x_limits(_outputs(-16.5)[0]) == (-19.0 - padding, 2.0 + padding)
    for value in (2.5, 4.9, -16.5, -12.0):
        left, right = rendering.x_limits(_outputs(value)[0])
        assert left < value - 1.0 and value + 1.0 < right


def test_values_past_the_range_reuse_one_layout_and_match_a_fresh_figure():
    layouts = rendering.kept_layouts()
    first = rendering.prediction_plot_svg(_outputs(2.2), kind="regression")
    assert first == rendering._fresh_svg(_outputs(2.2), kind="regression")
    count = len(layouts)
    for value in (2.5, 3.9):  # within the same step past the top: the same layout
        fast = rendering.prediction_plot_svg(_outputs(value), kind="regression")
        assert fast == rendering._fresh_svg(_outputs(value), kind="regression")
        assert f"{value:.2f} ± 1.00" in fast
        png = rendering.prediction_plot_png(_outputs(value), kind="regression")
        fresh = rendering._fresh_png(_outputs(value), kind="regression")
        pixels = [
            np.asarray(Image.open(io.BytesIO(b)).convert("RGB"), np.int16) for b in (png, fresh)
        ]
        assert pixels[0].shape == pixels[1].shape
        assert np.abs(pixels[0] - pixels[1]).max() <= 2
    assert len(layouts) == count
    rendering.prediction_plot_svg(_outputs(-14.0), kind="regression")  # another step: another
    assert len(layouts) == count + 1


def test_kept_layouts_are_bounded():
    layouts = rendering.kept_layouts()
    for step in range(rendering.LAYOUTS_KEPT + 3):
        rendering.prediction_plot_svg(_outputs(2.5 + 3 * step), kind="regression")
    assert len(layouts) == rendering.LAYOUTS_KEPT
