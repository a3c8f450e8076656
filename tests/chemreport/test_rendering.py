"""Pictures: valid PNG/SVG, labelled plots, and thread safety of the cached-figure plots.

The plots are tested through the functions production calls (`prediction_plot_png/svg`),
which draw in-range regression values onto a figure cached per layout and thread.
"""

from concurrent.futures import ThreadPoolExecutor

from rdkit import Chem

from chemreport.rendering import (
    PlotOutput,
    molecule_png,
    molecule_svg,
    prediction_plot_png,
    prediction_plot_svg,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
RANGES = [{"min": -11, "max": 1.5, "p05": -7, "p95": 0.5}, {"min": -25.5, "max": 3.4}]


def outputs(logs: float = -2.5, dg: float = -4.2) -> list[PlotOutput]:
    return [
        PlotOutput("Aqueous solubility (logS)", logs, "log(mol/L)", RANGES[0]),
        PlotOutput("Hydration free energy", dg, "kcal/mol", RANGES[1]),
    ]


def test_molecule_pictures_are_valid():
    mol = Chem.MolFromSmiles("CC(=O)Oc1ccccc1C(=O)O")
    assert molecule_png(mol).startswith(PNG_MAGIC)
    svg = molecule_svg(mol)
    assert svg.lstrip().startswith("<?xml") and "</svg>" in svg


def test_regression_plot_has_units_values_and_ranges():
    prediction_plot_svg(outputs(-1.0, -1.0), kind="regression")  # the layout is now cached
    svg = prediction_plot_svg(outputs(-2.5, -4.2), kind="regression")
    assert "log(mol/L)" in svg and "kcal/mol" in svg
    assert "training 5–95" in svg  # the range band is drawn where the checkpoint gives it
    assert "-2.50" in svg and "-4.20" in svg and "-1.00" not in svg  # this molecule's values
    assert svg.count("<svg") == 1 and svg.rstrip().endswith("</svg>")
    assert prediction_plot_png(outputs(), kind="regression").startswith(PNG_MAGIC)


def test_probability_plot_marks_top_class():
    probabilities = [
        PlotOutput("inactive", 0.2),
        PlotOutput("active", 0.7),
        PlotOutput("weak", 0.1),
    ]
    assert "Most likely: active" in prediction_plot_svg(probabilities, kind="probability")
    assert prediction_plot_png(probabilities, kind="probability").startswith(PNG_MAGIC)


def test_plots_render_concurrently_and_identically():
    """Each thread has its own cached figures: eight threads draw the same bytes."""

    def draw(index: int) -> tuple[bytes, str]:
        prediction_plot_png(outputs(-1.0 - index, 0.0), kind="regression")  # move the markers
        return (
            prediction_plot_png(outputs(), kind="regression"),
            prediction_plot_svg(outputs(), kind="regression"),
        )

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(draw, range(8)))
    assert all(png.startswith(PNG_MAGIC) for png, _ in results)
    assert len(set(results)) == 1
