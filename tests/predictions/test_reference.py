"""Approved-drug context: the reference file, percentiles, the stale-file case, the command,
and percentiles on the result page and in every export.

Expected percentiles are computed from the reference file itself, never hard-coded: the
checkpoint (and so the file) is rebuilt when the model is retrained.
"""

import csv
import io
import json
import logging

import pytest
from django.core.management import call_command
from django.urls import reverse

from chemcore import chemistry
from chemcore.network import ModelOutput
from chemreport import drugs as drug_file
from predictions import services
from predictions.serving import reference

ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"


@pytest.fixture(autouse=True)
def _fresh_reference():
    reference.reset_reference()
    yield
    reference.reset_reference()


def _tiny(path, predictor, rows: list[list[float]], weights: str | None = None):
    """A reference of len(rows) made-up drugs: row i gives every output's value for drug i."""
    drugs = [
        {"chembl_id": f"CHEMBL{i}", "name": f"DRUG {i}", "first_approval": 2000, "smiles": "C" * i}
        for i in range(1, len(rows) + 1)
    ]
    results = [ModelOutput(values, [0.5] * len(values)) for values in rows]
    drug_file.write(path, model=predictor, drugs=drugs, results=results)
    if weights is not None:
        path.write_text(path.read_text().replace(predictor.weights_hash, weights))
    return path


def test_percentiles_against_a_small_known_reference(tmp_path, predictor):
    n = len(predictor.outputs)
    path = _tiny(tmp_path / "drugs.csv", predictor, [[v] * n for v in (1.0, 2.0, 3.0, 4.0)])
    found = drug_file.read(path)
    label = predictor.outputs[0].label
    assert found.weights_hash == predictor.weights_hash and len(found) == 4
    assert found.labels == [o.label for o in predictor.outputs]
    assert found.percentile(label, 2.5) == 50.0  # two of four drugs lower
    assert found.percentile(label, 2.0) == 37.5  # one lower, one equal (counts half)
    assert found.percentile(label, 0.0) == 0.0 and found.percentile(label, 9.0) == 100.0
    assert found.percentile(label, None) is None and found.percentile("no such output", 1) is None
    xs, ys = found.density(label)
    assert max(ys) == pytest.approx(1.0) and xs[0] < 1.0 < 4.0 < xs[-1]
    assert [reference.ordinal(p) for p in (0.2, 1, 2, 3, 11, 12, 22, 50.4, 99.7, 100)] == [
        "1st", "1st", "2nd", "3rd", "11th", "12th", "22nd", "50th", "99th", "100th",
    ]  # fmt: skip


def test_a_reference_made_for_other_weights_is_ignored_and_said_so(
    tmp_path, predictor, caplog, client, db, settings, make_prediction
):
    path = _tiny(
        tmp_path / "old.csv",
        predictor,
        [[1.0] * len(predictor.outputs), [2.0] * len(predictor.outputs)],
        weights="ab" * 32,
    )
    with caplog.at_level(logging.WARNING, logger="predictions.serving.reference"):
        assert drug_file.load_for(predictor, path) == (None, drug_file.STALE)
    assert "build_drug_reference" in caplog.text and "abababababab" in caplog.text

    settings.DRUG_REFERENCE_PATH = str(path)
    aspirin = make_prediction(ASPIRIN)
    html = client.get(aspirin.get_absolute_url()).content.decode()
    assert "approved-drug reference was made for other model weights" in html
    assert "percentile</td>" not in html and "drugs.svg" not in html.split("Downloads")[0]
    row = next(
        csv.DictReader(
            io.StringIO(client.get(aspirin.get_absolute_url() + "values.csv").content.decode())
        )
    )
    label = predictor.outputs[0].label
    assert row[f"{label} percentile among approved drugs"] == ""
    data = json.loads(client.get(aspirin.get_absolute_url() + "values.json").content)
    assert data["approved_drugs"] is None


def test_a_missing_reference_turns_percentiles_off(tmp_path, predictor, settings):
    settings.DRUG_REFERENCE_PATH = str(tmp_path / "absent.csv")
    assert reference.get_reference() is None
    assert reference.unavailable_reason() == drug_file.MISSING


def test_tiny_reference_gives_the_page_and_exports_their_percentiles(
    tmp_path, predictor, client, db, settings, make_prediction
):
    aspirin = make_prediction(ASPIRIN)
    values = [o["value"] for o in aspirin.outputs]
    # Three drugs below the molecule on every output, one above: 75th percentile each.
    rows = [[v - 3 for v in values], [v - 2 for v in values], [v - 1 for v in values]]
    path = _tiny(tmp_path / "drugs.csv", predictor, [*rows, [v + 1 for v in values]])
    settings.DRUG_REFERENCE_PATH = str(path)

    html = client.get(aspirin.get_absolute_url()).content.decode()
    panel = html.split('id="drugs-heading"', 1)[1].split("</section>", 1)[0]
    assert "among 4 approved small-molecule drugs" in panel
    assert panel.count("75th percentile") == len(predictor.outputs)
    base = aspirin.get_absolute_url()
    row = next(csv.DictReader(io.StringIO(client.get(base + "values.csv").content.decode())))
    for output in predictor.outputs:
        assert row[f"{output.label} percentile among approved drugs"] == "75.0"
    data = json.loads(client.get(base + "values.json").content)
    assert data["approved_drugs"]["percentiles"] == {o.label: 75.0 for o in predictor.outputs}
    assert data["approved_drugs"]["drugs"] == 4
    assert data["approved_drugs"]["weights_sha256"] == predictor.weights_hash


def test_the_shipped_reference_was_made_by_the_shipped_checkpoint(predictor):
    """Fails after a retrain until `python manage.py build_drug_reference` is run again."""
    found = drug_file.read(predictor.directory / drug_file.FILENAME)
    assert found.weights_hash == predictor.weights_hash
    assert found.labels == [o.label for o in predictor.outputs]
    assert 1500 < len(found) <= 2628 and len(set(found.smiles)) == len(found)
    assert all(found.names)
    for smiles in found.smiles[:: len(found) // 15]:  # the site's own standardisation
        parsed = chemistry.parse_smiles(smiles, max_chars=10**6)
        assert parsed.canonical_smiles == smiles and not parsed.removed_fragments
        assert not predictor.network.unknown_tokens(smiles)
    sample = found.smiles[:5]
    for smiles, result in zip(sample, predictor.predict(sample)):
        index = found.smiles.index(smiles)
        for label, value in zip(found.labels, result.values):
            assert found.columns[label][index] == pytest.approx(value, rel=1e-4, abs=1e-4)


def test_command_builds_a_reference_for_the_served_weights(tmp_path, predictor):
    target = tmp_path / "approved_drugs.csv"
    out = io.StringIO()
    call_command("build_drug_reference", limit=12, output=target, stdout=out)
    assert "of 12 approved drugs predicted" in out.getvalue()
    found = drug_file.read(target)
    assert found.weights_hash == predictor.weights_hash and 0 < len(found) <= 12
    results = predictor.predict(found.smiles)  # as the site stores them
    for index, result in enumerate(results):
        for label, value in zip(found.labels, result.values):
            assert found.columns[label][index] == pytest.approx(value, rel=1e-4, abs=1e-4)
    with target.open() as handle:
        header = next(csv.reader(handle))
    assert header[:4] == ["chembl_id", "name", "first_approval", "smiles"]
    assert f"{predictor.outputs[0].label} sigma" in header and header[-1] == "weights_sha256"


def test_result_page_shows_percentiles_from_the_shipped_reference(client, make_prediction):
    aspirin = make_prediction(ASPIRIN)
    found = reference.get_reference()
    assert found is not None
    html = client.get(aspirin.get_absolute_url()).content.decode()
    panel = html.split('id="drugs-heading"', 1)[1].split("</section>", 1)[0]
    assert f"among {len(found):,} approved small-molecule drugs" in panel
    for output in aspirin.outputs:
        expected = reference.ordinal(found.percentile(output["label"], output["value"]))
        assert f"{expected} percentile" in panel
    assert reverse("predictions:download", args=[aspirin.public_id, "drugs.svg"]) in panel
    phone = reverse("predictions:download", args=[aspirin.public_id, "plot-phone.svg"])
    assert f'<source media="(max-width: 40rem)" srcset="{phone}">' in html


def test_batch_exports_carry_percentiles(client, predictor, db):
    from batches import owners
    from batches import services as batch_services

    session = client.session
    session[owners.SESSION_TOKEN] = "token-of-this-test-client"
    session.save()
    owner = owners.session_owner_key("token-of-this-test-client")
    batch = batch_services.batch_create(text=f"{ASPIRIN}\nCCO\n[Fe]\n", owner_key=owner)
    batch_services.batch_run(batch_pk=batch.pk)
    found = reference.get_reference()
    url = reverse("batches:download", args=[batch.public_id, "results.csv"])
    url += "?precision=full"  # percentiles come from the stored values, not the rounded ones
    records = list(
        csv.DictReader(io.StringIO(b"".join(client.get(url).streaming_content).decode()))
    )
    label = predictor.outputs[1].label
    column = f"{label} percentile among approved drugs"
    values = [r[f"{label} [{predictor.outputs[1].unit}]"] for r in records]
    expected = [f"{round(found.percentile(label, float(v)), 1)}" if v else "" for v in values]
    assert [r[column] for r in records] == expected and expected[2] == ""
    sdf = reverse("batches:download", args=[batch.public_id, "results.sdf"])
    text = b"".join(client.get(sdf).streaming_content).decode()
    assert text.count(f">  <{column}>\n") == 3 and f">  <{column}>\n{expected[0]}\n" in text


def test_command_run_for_the_served_model_redraws_its_stored_plots(
    tmp_path, predictor, client, settings, make_prediction
):
    target = tmp_path / "approved_drugs.csv"
    target.write_bytes((predictor.directory / drug_file.FILENAME).read_bytes())
    settings.DRUG_REFERENCE_PATH = str(target)
    aspirin = make_prediction(ASPIRIN)
    shipped = reference.get_reference()
    services.prediction_ensure_blobs(prediction=aspirin, fields=("plot_svg",))  # as a ZIP does
    aspirin.refresh_from_db()
    assert f"approved drugs (n = {len(shipped):,})" in aspirin.plot_svg
    # Rebuilt for the same weights: another reference, so the plots (and figures kept for
    # them) must follow it.
    call_command("build_drug_reference", limit=8, stdout=io.StringIO())
    aspirin.refresh_from_db()
    assert aspirin.plot_svg == "" and not aspirin.plot_png
    found = reference.get_reference()
    svg = client.get(reverse("predictions:download", args=[aspirin.public_id, "plot.svg"]))
    assert f"approved drugs (n = {len(found)})" in svg.content.decode()
