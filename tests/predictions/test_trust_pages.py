"""The trust layer on the pages and in the exports: badges, reasons, nearest measured
molecules, uncertainty and verdict columns, and the /model/ page."""

import csv
import io
import json

import pytest
from django.urls import reverse
from django.utils.html import escape

from batches import owners
from batches.models import BatchRow
from chemreport import units
from predictions import services


@pytest.fixture(autouse=True)
def _db(db):
    pass


def _owner(client) -> str:
    """Give the client's session an owner token, as its first upload would; its owner key."""
    session = client.session
    session[owners.SESSION_TOKEN] = "token-of-this-test-client"
    session.save()
    return owners.session_owner_key("token-of-this-test-client")


def test_result_page_shows_badges_reasons_and_nearest_measured_molecules(client, make_prediction):
    water = make_prediction("O")
    html = client.get(water.get_absolute_url()).content.decode()
    assert 'class="verdict verdict-out"' in html and "out of domain" in html
    assert "an inorganic species (no carbon)" in html and "single heavy atom" in html
    for reason in water.domain["outputs"][0]["reasons"]:
        assert escape(reason) in html
    assert reverse("predictions:model") in html

    paracetamol = make_prediction("CC(=O)Nc1ccc(O)cc1")
    html = client.get(paracetamol.get_absolute_url()).content.decode()
    assert 'class="verdict verdict-in"' in html and "in domain" in html
    neighbours = services.nearest_measured(paracetamol)
    assert len(neighbours) == 5
    sims = [n["similarity"] for n in neighbours]
    assert sims == sorted(sims, reverse=True)
    assert "Nearest measured molecules" in html
    for neighbour in neighbours:
        assert neighbour["smiles"] in html
        picture = reverse("predictions:training_molecule", args=[neighbour["index"]])
        assert picture in html
        response = client.get(picture)
        assert response.status_code == 200 and b"<svg" in response.content
        assert any(m["value"] is not None for m in neighbour["measured"])
        for measured in neighbour["measured"]:
            if measured["value"] is not None:
                assert f"{measured['value']:.2f} {measured['unit']} (measured)" in html


def test_training_molecule_outside_the_set_is_404(client):
    assert client.get(reverse("predictions:training_molecule", args=[10**6])).status_code == 404


def test_gallery_cards_carry_the_badge(client, make_prediction):
    make_prediction("O")
    make_prediction("CC(=O)Nc1ccc(O)cc1")
    html = client.get(reverse("predictions:gallery")).content.decode()
    assert html.count('class="verdict verdict-out"') == 1
    assert html.count('class="verdict verdict-in"') == 1


def test_values_exports_carry_uncertainty_and_verdict(client, make_prediction):
    water = make_prediction("O")
    base = water.get_absolute_url()
    row = next(csv.DictReader(io.StringIO(client.get(base + "values.csv").content.decode())))
    assert row["domain_verdict"] == "out of domain"
    assert "an inorganic species" in row["domain_reasons"]
    logd = water.domain["outputs"][1]  # nothing measured for logD7.4 is like water
    assert f"{logd['label']}: {logd['reasons'][0]}" in row["domain_reasons"]
    data = json.loads(client.get(base + "values.json").content)
    assert data["domain"] == water.domain and data["domain"]["verdict"] == "out"


def test_batch_rows_and_exports_carry_verdicts(client, predictor):
    from batches import services as batch_services

    batch = batch_services.batch_create(
        text="O\nCC(=O)Nc1ccc(O)cc1\n[Fe]\n", owner_key=_owner(client)
    )
    batch_services.batch_run(batch_pk=batch.pk)
    rows = list(BatchRow.objects.filter(batch_id=batch.pk).order_by("row_number"))
    assert [r.domain.get("verdict") for r in rows] == ["out", "in", None]
    page = client.get(reverse("batches:rows", args=[batch.public_id])).content.decode()
    assert 'class="verdict verdict-out"' in page and 'class="verdict verdict-in"' in page
    assert "The model cannot read [Fe]" in page

    url = reverse("batches:download", args=[batch.public_id, "results.csv"])
    url += "?precision=full"
    body = b"".join(client.get(url).streaming_content).decode()
    records = list(csv.DictReader(io.StringIO(body)))
    assert [r["domain_verdict"] for r in records] == ["out of domain", "in domain", ""]
    header = f"{rows[0].outputs[0]['label']} [{rows[0].outputs[0]['unit']}] uncertainty"
    sigmas = [r.outputs[0]["uncertainty"] if r.outputs else None for r in rows]
    assert [r[header] for r in records] == ["" if s is None else repr(s) for s in sigmas]
    sdf = reverse("batches:download", args=[batch.public_id, "results.sdf"])
    text = b"".join(client.get(sdf).streaming_content).decode()
    assert text.count(">  <domain_verdict>\n") == 3 and "out of domain" in text


def test_model_page_renders_the_card_metrics_ranges_and_thresholds(client, predictor):
    response = client.get(reverse("predictions:model"))
    assert response.status_code == 200
    html = response.content.decode()
    assert predictor.name in html and predictor.weights_hash[:12] in html
    card = (predictor.directory / "README.md").read_text()
    title = next(line[2:] for line in card.splitlines() if line.startswith("# "))
    assert f"<h3>{title}</h3>" in html  # the card, as HTML, under the page's headings
    assert "library_name:" not in html  # front matter is not shown
    assert "<table>" in html  # the card's metric table
    first = predictor.outputs[0]
    assert f"{predictor.test_metrics[first.label]['rmse']:.3f}" in html
    shown = [units.format_value(first.range[k], first.label) for k in ("min", "max")]
    assert f"{shown[0]} to {shown[1]}" in html  # rounded as the values are
    assert "less than 0.15 similar" in html
    assert "past a bound that 10 or more and 5 % of the measured molecules sit on" in html
    rules = html[html.index("Verdict rules per output") :]
    for rule in predictor.domain.outputs:  # each output's own unit and similarity cut
        row = rules[rules.index(f'<th scope="row">{rule.label}</th>') :].split("</tr>")[0]
        assert f"<td>{rule.typical_uncertainty:.3f}</td>" in row
        cut = rule.similarity_cut(predictor.domain.thresholds.similarity_care)
        assert (f"<td>{cut:g}</td>" if cut else "σ covers it") in row
    training = predictor.domain.training
    assert f"{len(training.smiles)} molecules" in html
    footer = client.get("/").content.decode()
    assert f'href="{reverse("predictions:model")}"' in footer


def test_gallery_filters_by_verdict(client, make_prediction):
    water = make_prediction("O")
    paracetamol = make_prediction("CC(=O)Nc1ccc(O)cc1")
    assert (water.verdict, paracetamol.verdict) == ("out", "in")
    gallery = reverse("predictions:gallery")
    out = client.get(gallery, {"verdict": "out"}).content.decode()
    assert water.get_absolute_url() in out and paracetamol.get_absolute_url() not in out
    assert '<option value="out" selected>' in out
    inside = client.get(gallery, {"verdict": "in"}).content.decode()
    assert paracetamol.get_absolute_url() in inside and water.get_absolute_url() not in inside
    both = client.get(gallery, {"verdict": "nonsense"}).content.decode()  # ignored, not a 400
    assert water.get_absolute_url() in both and paracetamol.get_absolute_url() in both


def test_batch_rows_filter_by_verdict(client, predictor):
    from batches import services as batch_services

    batch = batch_services.batch_create(
        text="O\nCC(=O)Nc1ccc(O)cc1\nCCO\n[Fe]\n", owner_key=_owner(client)
    )
    batch_services.batch_run(batch_pk=batch.pk)
    url = reverse("batches:detail", args=[batch.public_id])

    def shown(show: str) -> list[str]:
        page = client.get(url, {"show": show}).content.decode()
        table = page.split('<table class="batch-rows"', 1)[1].split("</table>", 1)[0]
        return [s for s in ("O", "CC(=O)Nc1ccc(O)cc1", "CCO", "[Fe]") if f">{s}</code>" in table]

    verdicts = {r.input_smiles: r.verdict for r in BatchRow.objects.filter(batch_id=batch.pk)}
    assert verdicts["O"] == "out" and verdicts["CC(=O)Nc1ccc(O)cc1"] == "in"
    for verdict in ("in", "care", "out"):
        assert shown(verdict) == [s for s in verdicts if verdicts[s] == verdict]
    assert shown("errors") == ["[Fe]"]
    assert shown("bogus") == ["O", "CC(=O)Nc1ccc(O)cc1", "CCO", "[Fe]"]
    assert "(in domain only)" in client.get(url, {"show": "in"}).content.decode()


def test_batch_summary_counts_verdicts_and_draws_histograms(client, predictor):
    from batches import services as batch_services

    batch = batch_services.batch_create(
        text="O\nCC(=O)Nc1ccc(O)cc1\nCCO\nCCCO\n[Fe]\n", owner_key=_owner(client)
    )
    batch_services.batch_run(batch_pk=batch.pk)
    page = client.get(reverse("batches:detail", args=[batch.public_id])).content.decode()
    summary = page.split('id="summary-heading"', 1)[1].split("</section>", 1)[0]
    counts = {
        verdict: BatchRow.objects.filter(batch_id=batch.pk, verdict=verdict).count()
        for verdict in ("in", "care", "out")
    }
    assert counts["out"] == 1 and sum(counts.values()) == 4
    for verdict, label in (
        ("in", "in domain"),
        ("care", "use with care"),
        ("out", "out of domain"),
    ):
        n = counts[verdict]
        assert f"{label}</span></a>: {n} row{'s' if n != 1 else ''}" in summary
    svg_url = reverse("batches:download", args=[batch.public_id, "histograms.svg"])
    assert svg_url in summary
    svg = b"".join(client.get(svg_url).streaming_content).decode()
    assert svg.startswith("<?xml") and "out of domain" in svg
    assert predictor.outputs[0].label in svg
    png_url = reverse("batches:download", args=[batch.public_id, "histograms.png"])
    png = b"".join(client.get(png_url).streaming_content)
    assert png.startswith(b"\x89PNG")
    stranger = type(client)()  # another visitor: the summary pictures are private too
    assert stranger.get(png_url).status_code == 404


def test_batch_rows_sort_by_output_and_verdict(client, predictor):
    from batches import services as batch_services

    smiles = ["CCCCCCCCO", "O", "OCC(O)CO", "[Fe]", "c1ccccc1", "CC(=O)Nc1ccc(O)cc1"]
    batch = batch_services.batch_create(text="\n".join(smiles) + "\n", owner_key=_owner(client))
    batch_services.batch_run(batch_pk=batch.pk)
    rows = {r.input_smiles: r for r in BatchRow.objects.filter(batch_id=batch.pk)}
    url = reverse("batches:detail", args=[batch.public_id])

    def order(**params) -> list[str]:
        page = client.get(url, params).content.decode()
        table = page.split('<table class="batch-rows"', 1)[1].split("</table>", 1)[0]
        cells = [c.split("</code>", 1)[0] for c in table.split('<code class="smiles">')[1:]]
        return [s for c in cells for s in smiles if c in (s, rows[s].canonical_smiles)][:6]

    ok = [s for s in smiles if rows[s].status == "ok"]
    logs = {s: rows[s].outputs[0]["value"] for s in ok}
    assert order(sort="o0") == sorted(ok, key=logs.get) + ["[Fe]"]
    assert order(sort="-o0") == sorted(ok, key=logs.get, reverse=True) + ["[Fe]"]
    rank = {"in": 0, "care": 1, "out": 2, "": 3}
    by_verdict = sorted(smiles, key=lambda s: (rank[rows[s].verdict], rows[s].row_number))
    assert order(sort="verdict") == by_verdict
    assert order(sort="nonsense") == smiles  # unknown orders fall back to input order
    only_in = order(sort="-o0", show="in")
    assert only_in == [s for s in sorted(ok, key=logs.get, reverse=True) if rows[s].verdict == "in"]
    page = client.get(url, {"sort": "-o0", "show": "in"}).content.decode()
    assert '<option value="-o0" selected>' in page
