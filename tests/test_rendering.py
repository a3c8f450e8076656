"""Pictures: valid PNG/SVG, labelled plots, and thread safety of the object-API plots."""

from concurrent.futures import ThreadPoolExecutor

from rdkit import Chem

from predictions.rendering import PlotOutput, molecule_png, molecule_svg, prediction_plot

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
OUTPUTS = [
    PlotOutput(
        "Aqueous solubility (logS)",
        -2.5,
        "log(mol/L)",
        {"min": -11, "max": 1.5, "p05": -7, "p95": 0.5},
    ),
    PlotOutput("Hydration free energy", -4.2, "kcal/mol", None),
]


def test_molecule_pictures_are_valid():
    mol = Chem.MolFromSmiles("CC(=O)Oc1ccccc1C(=O)O")
    assert molecule_png(mol).startswith(PNG_MAGIC)
    svg = molecule_svg(mol)
    assert svg.lstrip().startswith("<?xml") and "</svg>" in svg


def test_regression_plot_has_units_in_axis_labels():
    png, svg = prediction_plot(OUTPUTS, kind="regression")
    assert png.startswith(PNG_MAGIC)
    assert "log(mol/L)" in svg and "kcal/mol" in svg
    assert "training 5–95" in svg  # the range band is drawn where the checkpoint gives it


def test_probability_plot_marks_top_class():
    outputs = [PlotOutput("inactive", 0.2), PlotOutput("active", 0.7), PlotOutput("weak", 0.1)]
    _, svg = prediction_plot(outputs, kind="probability")
    assert "Most likely: active" in svg


def test_plots_render_concurrently_and_identically():
    """Object-API figures share no state: eight threads draw the same bytes."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: prediction_plot(OUTPUTS, kind="regression")[0], range(8)))
    assert all(r.startswith(PNG_MAGIC) for r in results)
    assert len(set(results)) == 1
