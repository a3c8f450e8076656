"""Readable outputs: logS in µM and µg/mL with bands, decimals from the model's test error on the
page and in CSVs (full precision on request and in JSON), and each notice shown once."""

import csv
import io
import json
import math

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from django.urls import reverse

from batches.models import Batch
from chemreport import units
from predictions.models import Prediction


def test_caffeine_measured_solubility_converts_back_to_its_units():
    # Caffeine: 21.6 g/L in water at 25 °C, MW 194.19 g/mol; the USP calls it sparingly soluble.
    logs = math.log10(21.6 / 194.19)
    found = units.solubility(logs, 194.19)
    assert found.micrograms_per_ml == pytest.approx(21_600, rel=1e-9)
    assert found.micromolar == pytest.approx(21.6 / 194.19 * 1e6, rel=1e-9)  # 111,231 µM
    assert found.usp_term == "sparingly soluble"
    assert found.logs_class == "very soluble"


def test_naphthalene_and_aspirin():
    # Naphthalene logS -3.6 (31 mg/L measured), MW 128.17: 10**-3.6 mol/L = 251 µM = 32 µg/mL.
    naphthalene = units.solubility(-3.6, 128.17)
    assert units.significant(naphthalene.micromolar) == "250"
    assert naphthalene.micrograms_per_ml == pytest.approx(32.2, abs=0.05)
    assert naphthalene.logs_class == "soluble" and naphthalene.usp_term == "practically insoluble"
    # Aspirin, 3.3 g/L (MW 180.16): "slightly soluble in water" in the pharmacopoeias.
    aspirin = units.solubility(math.log10(3.3 / 180.16), 180.16)
    assert aspirin.usp_term == "slightly soluble"
    assert units.solubility(-4.17, None).micrograms_per_ml is None  # no weight: no mass units


@pytest.mark.parametrize(
    ("logs", "words"),
    [
        (0.5, "highly soluble"),
        (0.0, "highly soluble"),
        (-2.0, "very soluble"),
        (-4.17, "moderately soluble"),
        (-6.0, "moderately soluble"),
        (-6.01, "poorly soluble"),
        (-10.5, "insoluble"),
    ],
)
def test_logs_classes_follow_the_stated_thresholds(logs, words):
    assert units.solubility(logs, 100.0).logs_class == words


def test_band_tables_state_the_thresholds():
    assert units.band_table(units.LOGS_CLASSES, "log(mol/L)")[3] == (
        "moderately soluble",
        "≥ -6 and < -4 log(mol/L)",
    )
    assert units.band_table(units.USP_TERMS_MG_PER_ML, "mg/mL")[-1] == (
        "practically insoluble",
        "< 0.1 mg/mL",
    )


@pytest.mark.parametrize(
    ("rmse", "decimals"), [(0.735, 2), (1.005, 2), (3.53, 1), (0.04, 3), (30.0, 0), (None, 2)]
)
def test_decimals_follow_the_test_rmse(rmse, decimals):
    assert units.decimals_for_rmse(rmse) == decimals


def test_significant_figures():
    assert [units.significant(v) for v in (111_231.3, 0.012345, 5.0, 32.2)] == [
        "110,000",
        "0.012",
        "5.0",
        "32",
    ]


@pytest.fixture
def aspirin(make_prediction):
    return make_prediction("CC(=O)Oc1ccccc1C(=O)O", title="Aspirin")


def _logs(prediction: Prediction) -> dict:
    return next(o for o in prediction.outputs if units.is_logs(o))


def test_result_page_shows_logs_in_other_units_and_rounded_values(client, aspirin, predictor):
    html = client.get(aspirin.get_absolute_url()).content.decode()
    logs = _logs(aspirin)
    found = units.solubility(logs["value"], aspirin.molecular_weight)
    assert f"{units.significant(found.micromolar)} µM" in html
    assert f"{units.significant(found.micrograms_per_ml)} µg/mL" in html
    assert found.logs_class in html and found.usp_term in html
    assert "≥ -6 and &lt; -4 log(mol/L)" in html and "&lt; 0.1 mg/mL" in html  # thresholds
    for output in aspirin.outputs:  # each value to its output's decimals, not more
        decimals = units.decimals_for_rmse(predictor.test_metrics[output["label"]]["rmse"])
        cell = '<td class="value"><span class="nowrap">'
        assert f"{cell}{output['value']:.{decimals}f}" in html
        assert f"{cell}{output['value']:.{decimals + 1}f}" not in html


def _rows(response) -> list[dict]:
    body = response.content if not response.streaming else b"".join(response.streaming_content)
    return list(csv.DictReader(io.StringIO(body.decode())))


def test_values_csv_is_rounded_unless_full_precision_is_asked(client, aspirin):
    base = aspirin.get_absolute_url()
    rounded = _rows(client.get(base + "values.csv"))[0]
    full = _rows(client.get(base + "values.csv?precision=full"))[0]
    for output in aspirin.outputs:
        header = f"{output['label']} [{output['unit']}]"
        decimals = units.output_decimals(output["label"])
        assert float(rounded[header]) == round(output["value"], decimals)
        assert len(rounded[header].split(".")[1]) <= decimals
        assert float(full[header]) == output["value"]
        sigma = f"{header} uncertainty"
        assert float(rounded[sigma]) == round(output["uncertainty"], decimals)
        assert float(full[sigma]) == output["uncertainty"]
    assert json.loads(client.get(base + "values.json").content)["outputs"] == aspirin.outputs
    etags = {client.get(base + "values.csv" + q)["ETag"] for q in ("", "?precision=full")}
    assert len(etags) == 2  # two versions of the file, two validators


def test_batch_csv_is_rounded_unless_full_precision_is_asked(db, client, queue, predictor):
    upload = SimpleUploadedFile("b.csv", b"id,smiles\nA,CCO\nB,c1ccccc1O\n")
    with TestCase.captureOnCommitCallbacks(execute=True):
        client.post(reverse("batches:list"), {"file": upload})
    queue()
    batch = Batch.objects.get()
    url = reverse("batches:download", args=[batch.public_id, "results.csv"])
    rounded, full = _rows(client.get(url)), _rows(client.get(url + "?precision=full"))
    api = _rows(client.get(f"/api/v1/batches/{batch.public_id}/results.csv?precision=full"))
    assert api == full
    page = client.get(batch.get_absolute_url()).content.decode()
    for low, high in zip(rounded, full):
        stored = Prediction.objects.get(public_id=low["prediction_id"])
        for output in stored.outputs:
            decimals = units.output_decimals(output["label"])  # the rows table rounds too
            assert f'<td class="value">{output["value"]:.{decimals}f} ±' in page
            assert f'<td class="value">{output["value"]:.{decimals + 1}f} ±' not in page
            header = f"{output['label']} [{output['unit']}]"
            assert float(low[header]) == round(
                output["value"], units.output_decimals(output["label"])
            )
            assert float(high[header]) == output["value"]


def test_a_salts_notice_is_shown_once(client, db, predictor):
    html = client.post("/", {"smiles": "CC(=O)[O-].[Na+]"}, follow=True).content.decode()
    assert html.count("largest organic fragment") == 1


def test_a_salts_notice_shows_once_when_the_stored_molecule_came_without_salt(
    client, db, predictor
):
    client.post("/", {"smiles": "CC(=O)O"})
    html = client.post("/", {"smiles": "CC(=O)[O-].[Na+]"}, follow=True).content.decode()
    assert html.count("largest organic fragment") == 1  # this request's note, as a message
