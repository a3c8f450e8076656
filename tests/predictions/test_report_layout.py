"""The report card's text stays on the page and no two blocks overlap, for the largest
molecules (paclitaxel's long SMILES, no name), long names, many reasons and seven outputs."""

import itertools

import pytest
from matplotlib.transforms import Bbox

from predictions import services
from predictions.downloads import report
from predictions.serving import reference

pytestmark = pytest.mark.django_db

PACLITAXEL = (
    "CC1=C2[C@@]([C@]([C@H]([C@@H]3[C@]4([C@H](OC4)C[C@@H]([C@]3(C(=O)[C@@H]2OC(=O)C)C)O)OC(=O)C)"
    "OC(=O)c5ccccc5)(C[C@@H]1OC(=O)[C@H](O)[C@@H](NC(=O)c6ccccc6)c7ccccc7)O)(C)C"
)
ATORVASTATIN = "CC(C)c1c(C(=O)Nc2ccccc2)c(-c2ccccc2)c(-c2ccc(F)cc2)n1CC[C@@H](O)C[C@@H](O)CC(=O)O"
# Erythromycin: a large macrolide, many stereocentres.
ERYTHROMYCIN = (
    "CC[C@@H]1[C@@]([C@@H]([C@H](C(=O)[C@@H](C[C@@]([C@@H]([C@H]([C@@H]([C@H](C(=O)O1)C)"
    "O[C@H]2C[C@@]([C@H]([C@@H](O2)C)O)(C)OC)C)O[C@H]3[C@@H]([C@H](C[C@H](O3)C)N(C)C)O)(C)O)"
    "C)C)O)(C)O"
)


@pytest.fixture(autouse=True)
def _reference():
    reference.reset_reference()


def _blocks(fig) -> dict[str, Bbox]:
    renderer = fig.canvas.get_renderer()
    blocks = {}
    for index, text in enumerate(fig.texts):
        if text.get_text().strip():
            blocks[f"text {index}: {text.get_text()[:30]!r}"] = text.get_window_extent(renderer)
    for index, legend in enumerate(fig.legends):
        blocks[f"legend {index}"] = legend.get_window_extent(renderer)
    for index, ax in enumerate(fig.axes):
        for table in ax.tables:
            blocks["table"] = table.get_window_extent(renderer)
        if not ax.tables:
            blocks[f"axes {index}"] = ax.get_tightbbox(renderer)
    return blocks


def layout_problems(fig) -> list[str]:
    page = fig.bbox
    problems = []
    blocks = _blocks(fig)
    for name, box in blocks.items():
        if box.x0 < page.x0 - 0.5 or box.y0 < page.y0 - 0.5:
            problems.append(f"{name} runs off the page (left/bottom): {box}")
        if box.x1 > page.x1 + 0.5 or box.y1 > page.y1 + 0.5:
            problems.append(f"{name} runs off the page (right/top): {box}")
    for (a, box_a), (b, box_b) in itertools.combinations(blocks.items(), 2):
        if box_a.overlaps(box_b):
            problems.append(f"{a} overlaps {b}")
    return problems


def _with_many_reasons(prediction, outputs: int = 7):
    """The same prediction with `outputs` outputs (as a seven-output checkpoint would give),
    each with long reasons."""
    base = prediction.outputs
    labels = [f"{base[i % len(base)]['label']} variant {i}" for i in range(outputs)]
    prediction.outputs = [{**base[i % len(base)], "label": label} for i, label in enumerate(labels)]
    reasons = [
        "far larger (113 heavy atoms, 1603 g/mol) than any molecule measured for it (up to 60 "
        "heavy atoms, 900 g/mol)",
        "the most similar molecule measured for it is only 0.12 similar (Tanimoto)",
    ]
    prediction.domain = {
        "verdict": "out",
        "reasons": ["an ion (net charge +1); the measured molecules are neutral"],
        "outputs": [
            {"label": label, "verdict": "out", "reasons": reasons, "nearest_similarity": 0.12}
            for label in labels
        ],
    }
    return prediction


@pytest.mark.parametrize(
    "smiles,title,many",
    [
        (PACLITAXEL, "", False),
        (ATORVASTATIN, "Atorvastatin", False),
        ("[Na+].[O-]C(=O)c1ccccc1", "", False),
        (ERYTHROMYCIN, "", False),
        (
            PACLITAXEL,
            "Paclitaxel (Taxol), a mitotic inhibitor from the bark of the Pacific yew tree",
            True,
        ),
    ],
)
def test_report_card_text_stays_inside_the_page_without_overlap(
    make_prediction, smiles, title, many
):
    prediction = make_prediction(smiles, title=title)
    services.prediction_ensure_blobs(prediction=prediction)
    if many:
        prediction = _with_many_reasons(prediction)
    fig = report.report_figure(prediction)
    problems = layout_problems(fig)
    assert not problems, "\n".join(problems)
    assert report.report_pdf(prediction).startswith(b"%PDF")
    said = " ".join(text.get_text() for text in fig.texts).replace("\n", " ")
    assert ("Values are for the parent compound" in said) == ("." in smiles)
