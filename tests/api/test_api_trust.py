"""The trust layer in the API: the same verdicts, reasons and similarities as the result page,
for single predictions, lists, batch rows and the OpenAPI schema; the salt note; σ explained."""

import pytest
from django.core.cache import cache
from django.template.defaultfilters import floatformat
from django.test import TestCase
from django.utils.html import escape

from batches import owners
from batches.models import Batch
from chemcore import domain

pytestmark = pytest.mark.django_db

API = "/api/v1"

# In domain, care, and out for several reasons (water: inorganic, one atom; a selenium and a
# boron drug: elements no measured molecule holds; a sodium salt).
MOLECULES = {
    "aspirin": "CC(=O)Oc1ccccc1C(=O)O",
    "water": "O",
    "ebselen": "O=C1c2ccccc2[Se]N1c1ccccc1",
    "bortezomib": "CC(C)C[C@H](NC(=O)[C@H](Cc1ccccc1)NC(=O)c1cnccn1)B(O)O",
    "sodium benzoate": "[Na+].[O-]C(=O)c1ccccc1",
    "hexadecane": "CCCCCCCCCCCCCCCC",
}


@pytest.fixture(autouse=True)
def _fresh_throttle():
    cache.clear()
    yield
    cache.clear()


def _predict(client, smiles: list[str]) -> list[dict]:
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(
            f"{API}/predict", {"smiles": smiles}, content_type="application/json"
        )
    assert response.status_code == 200, response.content[:300]
    return response.json()["results"]


def _page_verdicts(client, url: str, outputs: list[dict]) -> tuple[str, list[str]]:
    """(the overall verdict's badge class, each output row's verdict class) on the result page."""
    html = client.get(url).content.decode()
    table = html[html.index('<table class="values"') : html.index("</table>")]
    rows = table.split("<tr>")[2:]  # after the header row
    per_output = []
    for output, row in zip(outputs, rows, strict=True):
        assert f'<th scope="row">{escape(output["label"])}</th>' in row
        per_output.append(row.split("verdict verdict-")[1].split('"')[0])
    trust = html[html.index('id="trust-heading"') :]
    overall = trust.split("verdict verdict-")[1].split('"')[0]
    return overall, per_output, html


def test_api_verdicts_match_the_result_page(client, predictor):
    results = _predict(client, list(MOLECULES.values()))
    assert all(r["ok"] for r in results)
    seen = set()
    for name, result in zip(MOLECULES, results):
        body = result["prediction"]
        overall, per_output, html = _page_verdicts(client, body["url"], body["outputs"])
        assert body["domain"]["verdict"] == overall, name
        assert [o["domain"]["verdict"] for o in body["outputs"]] == per_output, name
        assert body["domain"]["verdict_label"] == domain.verdict_label(overall)
        for reason in body["domain"]["all_reasons"]:
            assert escape(reason) in html, (name, reason)
        for output in body["outputs"]:
            assert output["domain"]["verdict_label"] == domain.verdict_label(
                output["domain"]["verdict"]
            )
            similarity = output["domain"]["nearest_similarity"]
            assert similarity is None or 0 <= similarity <= 1
        # GET by id serves the same, and the page's nearest measured molecules.
        again = client.get(f"{API}/predictions/{body['id']}").json()
        assert again["domain"] == body["domain"] and again["outputs"] == body["outputs"]
        assert len(again["nearest_measured"]) == 5
        for neighbour in again["nearest_measured"]:
            assert neighbour["smiles"] in html
            shown = floatformat(neighbour["similarity"], 2)  # as the page rounds it
            assert f"Similarity {shown} (Tanimoto)" in html
        seen.add(overall)
    assert seen >= {"in", "out"}


def test_elements_no_measured_molecule_holds_are_out_of_domain(client, predictor):
    """Per output, from the elements of the molecules measured for it (training_set.csv)."""
    training = predictor.training
    results = _predict(client, [MOLECULES["ebselen"], MOLECULES["bortezomib"]])
    for result, element in zip(results, ["Se", "B"]):
        body = result["prediction"]
        assert body["domain"]["verdict"] == "out"
        for index, output in enumerate(body["outputs"]):
            held = training.element_counts[index].get(element, 0)
            if held == 0:
                assert output["domain"]["verdict"] == "out", (element, output["label"])
                assert any(
                    f"contains {element}, which no molecule measured for it" in reason
                    for reason in output["domain"]["reasons"]
                )
            elif held < min(10, 0.01 * training.measured_counts()[index]):
                assert output["domain"]["verdict"] in ("care", "out")
                assert any(f"{element} {held}" in r for r in output["domain"]["reasons"])
        assert any(element in r for r in body["domain"]["all_reasons"])


def test_nearest_similarity_is_the_pages_nearest_measured_molecule(client, predictor):
    from predictions import services
    from predictions.models import Prediction

    [result] = _predict(client, [MOLECULES["aspirin"]])
    body = result["prediction"]
    # enough neighbours that each output's nearest measured molecule is among them
    neighbours = services.nearest_measured(Prediction.objects.get(public_id=body["id"]), k=20000)
    for index, output in enumerate(body["outputs"]):
        measured = [
            n["similarity"] for n in neighbours if n["measured"][index]["value"] is not None
        ]
        assert output["domain"]["nearest_similarity"] == pytest.approx(measured[0], abs=1e-3)


def test_salt_input_says_the_value_is_for_the_parent(client, predictor):
    [salt] = _predict(client, [MOLECULES["sodium benzoate"]])
    assert "[Na+]" in salt["standardisation_note"]
    for note in (salt["parent_note"], salt["prediction"]["parent_note"]):
        assert "parent compound" in note and "[Na+]" in note and "more soluble" in note
    # the measured figures for salts of its kind, and what they suggest for this salt as given
    logs = next(o["value"] for o in salt["prediction"]["outputs"] if "(logS)" in o["label"])
    estimate = salt["prediction"]["salt"]
    assert estimate["kind"] == "alkali" and estimate["n"] >= 20
    assert estimate["logS"] == pytest.approx(logs + estimate["median_difference"], abs=0.006)
    assert estimate["low"] <= estimate["logS"] <= estimate["high"]
    assert f"suggests logS about {estimate['logS']:.1f}" in salt["parent_note"]
    [acid] = _predict(client, ["OC(=O)c1ccccc1"])
    assert acid["parent_note"] == "" and acid["prediction"]["id"] == salt["prediction"]["id"]
    assert acid["prediction"]["salt"] is None  # the caller's input was no salt


def test_batch_rows_carry_the_verdicts(client, queue, predictor):
    session = client.session
    session[owners.SESSION_TOKEN] = "api-trust-test"
    session.save()
    smiles = [MOLECULES["aspirin"], MOLECULES["water"], MOLECULES["sodium benzoate"]]
    with TestCase.captureOnCommitCallbacks(execute=True):
        created = client.post(f"{API}/batches", {"smiles": smiles}, content_type="application/json")
    assert created.status_code == 201, created.content
    queue()
    batch_id = created.json()["id"]
    assert Batch.objects.get(public_id=batch_id).status == "done"
    rows = client.get(f"{API}/batches/{batch_id}/rows").json()["results"]
    predicted = {
        r["prediction"]["canonical_smiles"]: r["prediction"] for r in _predict(client, smiles)
    }
    for row in rows:
        same = predicted[row["canonical_smiles"]]
        assert row["domain"] == same["domain"]
        assert row["outputs"] == same["outputs"]
    assert "parent compound" in rows[2]["parent_note"] and rows[0]["parent_note"] == ""
    assert rows[2]["salt"]["kind"] == "alkali" and rows[0]["salt"] is None


def test_schema_documents_the_trust_fields(client):
    schema = client.get(f"{API}/schema/", HTTP_ACCEPT="application/json")
    if schema.status_code != 200 or not schema["Content-Type"].startswith("application/json"):
        schema = client.get(f"{API}/schema/?format=json")
    spec = schema.json()
    components = spec["components"]["schemas"]
    output = components["Output"]["properties"]
    assert {"label", "unit", "value", "uncertainty", "domain"} <= set(output)
    assert "standard deviation" in output["uncertainty"]["description"]
    assert "1.645" in output["uncertainty"]["description"]
    judged = components["OutputDomain"]["properties"]
    assert {"verdict", "verdict_label", "reasons", "nearest_similarity"} <= set(judged)
    overall = components["Domain"]["properties"]
    assert {"verdict", "reasons", "all_reasons"} <= set(overall)
    assert "nearest_measured" in components["PredictionDetail"]["properties"]
    for name in ("Prediction", "BatchRow"):
        props = components[name]["properties"]
        assert {"outputs", "domain", "parent_note"} <= set(props), name
