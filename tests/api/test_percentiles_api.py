"""Percentiles among approved drugs in the API (predictions and batch rows) and on the batch
results page, from the shipped reference and the real model."""

import json
import re

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase

from batches.models import Batch
from predictions.serving import reference

pytestmark = pytest.mark.django_db

API = "/api/v1"
MOLECULES = ["CC(=O)Oc1ccccc1C(=O)O", "CCCCCCCCCCCCCCCCO", "OCC(O)CO"]


@pytest.fixture(autouse=True)
def _fresh_throttle():
    cache.clear()  # API throttle counters live in the default cache
    yield
    cache.clear()


def _predict(client, smiles: list[str]) -> list[dict]:
    body = json.dumps({"smiles": smiles})
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(f"{API}/predict", body, content_type="application/json")
    assert response.status_code == 200, response.content[:300]
    return [item["prediction"] for item in response.json()["results"]]


def test_api_predictions_carry_their_percentiles_among_approved_drugs(client, predictor):
    drugs = reference.get_reference()
    assert drugs is not None and drugs.weights_hash == predictor.weights_hash
    predicted = _predict(client, MOLECULES)
    by_output = {}
    for prediction in predicted:
        context = prediction["approved_drugs"]
        assert context["drugs"] == len(drugs) and context["weights_sha256"] == drugs.weights_hash
        percentiles = context["percentiles"]
        assert list(percentiles) == [o["label"] for o in prediction["outputs"]]
        for output in prediction["outputs"]:
            percent = percentiles[output["label"]]
            assert percent == drugs.percentile(output["label"], output["value"])
            assert 0 <= percent <= 100
            by_output.setdefault(output["label"], []).append((output["value"], percent))
        # The same figures as the result page's values.json.
        values = client.get(f"/predictions/{prediction['id']}/values.json").json()
        assert values["approved_drugs"] == context
        # ... and the same object when read back by id.
        again = client.get(f"{API}/predictions/{prediction['id']}").json()
        assert again["approved_drugs"] == context
    for pairs in by_output.values():  # a higher value is never at a lower percentile
        ranked = [percent for _, percent in sorted(pairs)]
        assert ranked == sorted(ranked)


def test_without_a_reference_for_the_weights_the_api_says_null(
    client, predictor, settings, tmp_path
):
    settings.DRUG_REFERENCE_PATH = str(tmp_path / "none.csv")  # no reference at all
    [prediction] = _predict(client, MOLECULES[:1])
    assert prediction["approved_drugs"] is None


def _finished_batch(client, queue) -> Batch:
    text = "name,smiles\n" + "".join(f"m{i},{s}\n" for i, s in enumerate(MOLECULES)) + "bad,C1CC\n"
    upload = SimpleUploadedFile("screen.csv", text.encode())
    with TestCase.captureOnCommitCallbacks(execute=True):
        created = client.post(f"{API}/batches", {"file": upload})
    assert created.status_code == 201, created.content
    queue()
    batch = Batch.objects.get(public_id=created.json()["id"])
    assert batch.done_count == len(MOLECULES)
    return batch


def test_batch_rows_in_the_api_and_on_the_page_carry_percentiles(client, queue, predictor):
    drugs = reference.get_reference()
    batch = _finished_batch(client, queue)
    rows = client.get(f"{API}/batches/{batch.public_id}/rows").json()["results"]
    assert len(rows) == len(MOLECULES) + 1
    for row in rows[: len(MOLECULES)]:
        assert row["percentiles"] == {
            o["label"]: drugs.percentile(o["label"], o["value"]) for o in row["outputs"]
        }
    assert rows[-1]["status"] == "error" and rows[-1]["percentiles"] == {}

    html = client.get(f"/batches/{batch.public_id}/").content.decode()
    table = html[html.index('class="batch-rows"') :]
    assert f"percentile among {len(drugs):,} approved drugs" in table
    shown = re.findall(
        r'<span class="drug-percentile">(\d+(?:st|nd|rd|th)) percentile</span>', table
    )
    expected = [
        reference.ordinal(drugs.percentile(o["label"], o["value"]))
        for row in rows[: len(MOLECULES)]
        for o in row["outputs"]
    ]
    assert shown == expected


def test_a_batch_by_other_weights_shows_no_percentiles(client, queue, predictor):
    batch = _finished_batch(client, queue)
    Batch.objects.filter(pk=batch.pk).update(model_hash="0" * 64)  # made by another model
    rows = client.get(f"{API}/batches/{batch.public_id}/rows").json()["results"]
    assert all(row["percentiles"] is None for row in rows)
    html = client.get(f"/batches/{batch.public_id}/").content.decode()
    assert "drug-percentile" not in html and "approved drugs predicted by" not in html
