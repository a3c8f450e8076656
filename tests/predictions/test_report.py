"""Self-describing pictures: labelled plot downloads, the phone plot, the approved-drug scatter
and the report card (PNG and PDF), served with the usual conditional-GET caching."""

import io
import re
import zipfile

import pytest
from django.urls import reverse
from PIL import Image

from chemcore.domain import verdict_label
from chemreport.report import save
from predictions import selectors
from predictions.downloads import report
from predictions.serving import reference

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"


@pytest.fixture(autouse=True)
def _db(db):
    reference.reset_reference()


def _url(prediction, name: str) -> str:
    return reverse("predictions:download", args=[prediction.public_id, name])


def test_downloaded_plots_name_the_molecule_model_and_date(client, make_prediction):
    aspirin = make_prediction(ASPIRIN, title="Aspirin")
    version = aspirin.model_version
    inline = client.get(_url(aspirin, "plot.svg")).content.decode()
    assert "Aspirin" not in inline  # the page's own picture is captioned by the page
    saved = client.get(_url(aspirin, "plot.svg") + "?download=1")
    svg = saved.content.decode()
    assert saved["Content-Disposition"].startswith("attachment")
    published = f"published {aspirin.published_at:%Y-%m-%d}"
    for text in ("Aspirin", version, aspirin.model_hash[:12], published):
        assert text in svg
    assert re.search(r"<dc:title>Aspirin</dc:title>", svg)
    png = client.get(_url(aspirin, "plot.png") + "?download=1").content
    assert png.startswith(PNG_MAGIC)
    info = Image.open(io.BytesIO(png)).info
    assert info["Title"] == "Aspirin" and version in info["Description"]


def test_a_private_molecules_download_is_dated_by_the_download(client, make_prediction):
    ethanol = make_prediction("CCO", public=False)
    svg = client.get(_url(ethanol, "plot.svg") + "?download=1").content.decode()
    assert "CCO" in svg and "downloaded 20" in svg and "published" not in svg


def test_phone_plot_is_narrower_so_its_text_reads_larger(client, make_prediction):
    aspirin = make_prediction(ASPIRIN)
    desktop = client.get(_url(aspirin, "plot.svg")).content.decode()
    phone = client.get(_url(aspirin, "plot-phone.svg"))
    assert phone.status_code == 200 and phone["Content-Type"] == "image/svg+xml"
    assert phone["Content-Security-Policy"].startswith("default-src 'none'")

    def width(svg: str) -> float:
        return float(re.search(r'<svg [^>]*width="([\d.]+)pt"', svg)[1])

    assert width(phone.content.decode()) < 0.65 * width(desktop)  # same points, ~1.6x larger
    assert (
        "plot-phone.svg"
        not in client.get(aspirin.get_absolute_url())
        .content.decode()
        .split('id="downloads-heading"')[1]
    )


def test_plot_shows_the_approved_drugs_distribution(client, make_prediction):
    aspirin = make_prediction(ASPIRIN)
    drugs = reference.get_reference()
    svg = client.get(_url(aspirin, "plot.svg")).content.decode()
    assert f"approved drugs (n = {len(drugs):,})" in svg


def test_drug_scatter_marks_the_molecule_among_the_drugs(client, make_prediction):
    aspirin = make_prediction(ASPIRIN, title="Aspirin")
    drugs = reference.get_reference()
    response = client.get(_url(aspirin, "drugs.svg"))
    svg = response.content.decode()
    assert response["Content-Type"] == "image/svg+xml" and svg.rstrip().endswith("</svg>")
    assert f"approved drugs (n = {len(drugs):,}), same model" in svg and "this molecule" in svg
    assert aspirin.outputs[0]["label"] in svg and aspirin.outputs[1]["label"] in svg
    assert len(svg) < 200_000  # the drugs' points are one embedded image
    assert "Aspirin" in client.get(_url(aspirin, "drugs.svg") + "?download=1").content.decode()
    png = client.get(_url(aspirin, "drugs.png")).content
    assert png.startswith(PNG_MAGIC)
    # Conditional GET, as for every picture: the same version answers 304.
    again = client.get(_url(aspirin, "drugs.svg"), HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304


def test_report_card_png_and_pdf(client, make_prediction):
    aspirin = make_prediction(ASPIRIN, title="Aspirin")
    pdf = client.get(_url(aspirin, "report.pdf"))
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF-")
    assert pdf["Content-Disposition"].startswith("attachment")
    assert b"/Title (Aspirin)" in pdf.content
    subject = pdf.content.split(b"/Subject (", 1)[1][:400]  # UTF-16 text: it holds a "·"
    assert aspirin.model_version.encode("utf-16-be") in subject.replace(b"\\", b"")
    png = client.get(_url(aspirin, "report.png")).content
    image = Image.open(io.BytesIO(png))
    assert png.startswith(PNG_MAGIC) and image.size == (827, 1169)  # A4 at 100 dpi
    assert image.info["Title"] == "Aspirin"
    html = client.get(aspirin.get_absolute_url()).content.decode()
    for name in ("report.pdf", "report.png", "drugs.png"):
        assert f"{_url(aspirin, name)}?download=1" in html


def _texts(figure) -> str:
    texts = [t.get_text() for t in figure.texts]
    for ax in figure.axes:
        texts += [t.get_text() for t in ax.texts]
        for table in ax.tables:
            texts += [cell.get_text().get_text() for cell in table.get_celld().values()]
    return "\n".join(texts)


def test_report_card_holds_values_percentiles_verdict_and_profile(make_prediction):
    aspirin = make_prediction(ASPIRIN, title="Aspirin")
    stored = selectors.prediction_get(aspirin.public_id, blobs=("molecule_png",))
    from predictions import services

    services.prediction_ensure_blobs(prediction=stored, fields=("molecule_png",))
    drugs = reference.get_reference()
    text = _texts(report.report_figure(stored))
    assert "Aspirin" in text and stored.formula in text
    # v3.4.0 says "use with care" for aspirin's logD7.4 (σ 1.6x typical: an ionised acid)
    assert f"Applicability domain: {verdict_label(stored.verdict)}" in text
    for output in stored.outputs:
        assert f"{output['value']:.2f} ± {output['uncertainty']:.2f}" in text
        assert reference.ordinal(drugs.percentile(output["label"], output["value"])) in text
    assert "Computed (RDKit), exact" in text and "Molecular weight: 180.16 g/mol" in text
    assert "H-bond donors (NH + OH): 1" in text and "Structural alerts: phenol_ester" in text
    stored.profile = {}  # a prediction stored before profiles existed: no profile block
    assert "Computed (RDKit), exact" not in _texts(report.report_figure(stored))


def test_bundle_carries_the_labelled_pictures_and_the_report(client, make_prediction):
    aspirin = make_prediction(ASPIRIN, title="Aspirin")
    archive = zipfile.ZipFile(io.BytesIO(client.get(_url(aspirin, "bundle.zip")).content))
    names = archive.namelist()
    assert "aspirin/report.pdf" in names and "aspirin/drugs.svg" in names
    assert "aspirin/plot-phone.svg" not in names
    assert "Aspirin" in archive.read("aspirin/plot.svg").decode()


def test_cached_layout_plots_equal_fresh_ones_with_error_bars_and_drugs():
    """The fast path (a cached figure, only value, error bar and label redrawn) gives exactly a
    fresh figure's SVG text and PNG pixels, with uncertainties and the drugs' density drawn."""
    from chemreport import rendering

    ranges = [{"min": -11, "max": 1.5, "p05": -7, "p95": 0.5}, {"min": -25.5, "max": 3.4}]
    xs = tuple(x / 10 for x in range(-100, 10))
    drugs = rendering.DrugDensity("test", xs, tuple(abs(x % 2 - 1) for x in xs), 1234)

    def outputs(logs: float, dg: float) -> list:
        return [
            rendering.PlotOutput("logS", logs, "log(mol/L)", ranges[0], 0.5, drugs),
            rendering.PlotOutput("dG", dg, "kcal/mol", ranges[1], 1.25, drugs),
        ]

    rendering.prediction_plot_svg(outputs(-1.0, -1.0), kind="regression")  # the layout, cached
    rendering.prediction_plot_png(outputs(-1.0, -1.0), kind="regression")
    fast_svg = rendering.prediction_plot_svg(outputs(-2.5, -4.2), kind="regression")
    assert fast_svg == rendering._fresh_svg(outputs(-2.5, -4.2), kind="regression")
    assert "-2.50 ± 0.50" in fast_svg and "approved drugs (n = 1,234)" in fast_svg
    fast = Image.open(
        io.BytesIO(rendering.prediction_plot_png(outputs(-2.5, -4.2), kind="regression"))
    )
    fresh = Image.open(io.BytesIO(rendering._fresh_png(outputs(-2.5, -4.2), kind="regression")))
    assert fast.convert("RGBA").tobytes() == fresh.convert("RGBA").tobytes()
    phone = rendering.phone_plot_svg(outputs(-2.5, -4.2), kind="regression")  # cached too
    width = rendering.PHONE_WIDTH
    assert phone == rendering._fresh_svg(outputs(-2.5, -4.2), kind="regression", width=width)


def test_cached_scatter_equals_a_fresh_one(make_prediction):
    """The page's scatter moves only the marker on a kept figure: the same SVG as drawn fresh,
    for molecules inside the drugs' ranges (and a fresh figure for one outside them)."""
    drugs = reference.get_reference()
    made = [make_prediction(smiles) for smiles in (ASPIRIN, "CCCCCCO", "c1ccccc1N", "C" * 40)]
    inside = 0
    for prediction in made:
        fresh = save(report.scatter_figure(prediction, captioned=False), "svg")
        assert report.scatter_svg(prediction) == fresh
        x, y = (prediction.outputs[i] for i in reference.scatter_axes(prediction.outputs))
        inside += all(
            drugs.sorted_values[o["label"]][0] <= o["value"] <= drugs.sorted_values[o["label"]][-1]
            for o in (x, y)
        )
    assert inside >= 2  # the kept figure was used (and reused)
