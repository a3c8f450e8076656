"""The JSON API through Django's test client: real model, RDKit, SQLite and SQLite Huey queue."""

import csv
import io
import zipfile
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from rest_framework.authtoken.models import Token

from batches.models import Batch
from predictions.models import Prediction

pytestmark = pytest.mark.django_db

API = "/api/v1"


@pytest.fixture(autouse=True)
def _fresh_throttle():
    cache.clear()  # throttle counters live in the cache
    yield
    cache.clear()


@pytest.fixture
def token(db) -> Token:
    user = User.objects.create_user("robot", password="x" * 12)
    return Token.objects.create(user=user)


def _post_json(client, path, body, **headers):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(API + path, body, content_type="application/json", **headers)


def _assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


def test_predict_one_molecule_stores_a_private_prediction(client, predictor):
    response = _post_json(client, "/predict", {"smiles": "OCC"})
    assert response.status_code == 200
    [item] = response.json()["results"]
    assert item["ok"] is True and item["input"] == "OCC" and item["created"] is True
    result = item["prediction"]
    assert result["canonical_smiles"] == "CCO"
    labels = [o["label"] for o in result["outputs"]]
    assert labels == [o.label for o in predictor.outputs]
    assert all(isinstance(o["value"], float) and "unit" in o for o in result["outputs"])
    stored = Prediction.objects.get(public_id=result["id"])
    assert stored.source == "api" and stored.public is False
    assert result["url"].endswith(f"/predictions/{stored.public_id}/")
    assert result["published_at"] is None
    # Private: reachable by id, never listed.
    assert client.get(f"{API}/predictions/{stored.public_id}").json()["id"] == stored.public_id
    assert client.get(f"{API}/predictions").json()["count"] == 0
    # The stored values and uncertainties come back at full precision, each with its verdict.
    assert [(o["value"], o["uncertainty"]) for o in result["outputs"]] == [
        (o["value"], o["uncertainty"]) for o in stored.outputs
    ]
    assert all(o["domain"]["verdict"] in ("in", "care", "out") for o in result["outputs"])
    # The shipped ensemble's uncertainty and the domain verdict are judged and stored on this path.
    assert stored.verdict and stored.domain["verdict"] == stored.verdict
    if predictor.has_uncertainty:
        assert all(o["uncertainty"] > 0 for o in result["outputs"])


def test_outputs_are_documented_fields_not_free_json(client, make_prediction):
    """Stray keys in a stored output dict stay out; a prediction never assessed has a null
    verdict (as the page says "not assessed")."""
    prediction = make_prediction("c1ccccc1O")
    outputs = [{**o, "uncertainty": 0.25, "internal": 1} for o in prediction.outputs]
    Prediction.objects.filter(pk=prediction.pk).update(outputs=outputs, domain={}, verdict="")
    result = client.get(f"{API}/predictions/{prediction.public_id}").json()
    assert [set(o) for o in result["outputs"]] == [
        {"label", "unit", "value", "kind", "uncertainty", "domain"}
    ] * len(outputs)
    assert all(o["uncertainty"] == 0.25 and o["domain"] is None for o in result["outputs"])
    assert result["domain"] is None


def test_predict_a_list_keeps_input_order_with_reasons_for_invalid_ones(client, predictor):
    inputs = ["CCO", "C1CC", "c1ccccc1", "OCC", "Xx", "CC😀", "*c1ccccc1"]
    response = _post_json(client, "/predict", {"smiles": inputs, "public": True})
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["input"] for r in results] == inputs
    assert [r["ok"] for r in results] == [True, False, True, True, False, False, False]
    assert "ring" in results[1]["error"].lower() or "unclosed" in results[1]["error"].lower()
    assert "position" in results[5]["error"]
    assert "wildcard atom (*)" in results[6]["error"]
    # The same molecule twice is one stored prediction.
    assert results[0]["prediction"]["id"] == results[3]["prediction"]["id"]
    assert Prediction.objects.count() == 2
    listed = client.get(f"{API}/predictions", {"q": "c1ccccc1"}).json()
    assert [p["canonical_smiles"] for p in listed["results"]] == ["c1ccccc1"]
    # Asked again: reused, not predicted.
    again = _post_json(client, "/predict", {"smiles": ["CCO"]}).json()["results"][0]
    assert again["created"] is False and again["prediction"]["id"] == results[0]["prediction"]["id"]


def test_predict_refuses_bad_bodies_with_json_errors(client, settings, predictor):
    settings.API_MAX_MOLECULES = 3
    error = _assert_error(
        _post_json(client, "/predict", {"smiles": ["C"] * 4}), 400, "invalid_input"
    )
    assert "smiles" in error["details"]["fields"]
    _assert_error(_post_json(client, "/predict", {"smiles": []}), 400, "invalid_input")
    _assert_error(_post_json(client, "/predict", {"smiles": [1, 2]}), 400, "invalid_input")
    _assert_error(_post_json(client, "/predict", {}), 400, "invalid_input")
    bad_json = client.post(f"{API}/predict", "{nope", content_type="application/json")
    _assert_error(bad_json, 400, "malformed_body")
    _assert_error(
        client.post(f"{API}/predict", "x", content_type="text/plain"), 415, "unsupported_media_type"
    )
    _assert_error(client.get(f"{API}/predict"), 405, "method_not_allowed")
    missing = _assert_error(client.get(f"{API}/predictions/nosuchid"), 404, "not_found")
    assert missing["message"] == "No such prediction."
    _assert_error(client.get(f"{API}/nothing/here"), 404, "not_found")
    _assert_error(client.get(f"{API}/predictions", {"page": 99}), 404, "not_found")


def test_oversized_bodies_get_a_json_413(client, settings):
    settings.BATCH_MAX_UPLOAD_BYTES = 1000
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = '{"smiles": "' + "C" * 5000 + '"}'
    _assert_error(
        client.post(f"{API}/predict", body, content_type="application/json"),
        413,
        "payload_too_large",
    )
    # The HTML site still answers its own page.
    html = client.post("/batches/", {"text": "C" * 5000})
    assert html.status_code == 413 and html["Content-Type"].startswith("text/html")


def test_html_404_stays_html(client):
    response = client.get("/no/such/page/")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")


def test_model_endpoint(client, predictor):
    body = client.get(f"{API}/model").json()
    assert body["name"] == predictor.name and body["weights_sha256"] == predictor.weights_hash
    assert [o["unit"] for o in body["outputs"]] == [o.unit for o in predictor.outputs]
    assert body["outputs"][0]["training_range"]["min"] < body["outputs"][0]["training_range"]["max"]
    assert set(body["test_metrics"]) == {o.label for o in predictor.outputs}
    # the salt figures a salt's note and `salt` field quote, and the model they came from
    assert set(body["salts"]["kinds"]) == {"alkali", "metal", "acid", "organic"}
    assert body["salts"]["bins"] == [-3.0, -1.0]
    assert body["salts"]["model"] == f"{predictor.version} ({predictor.weights_hash[:12]})"


def test_anonymous_calls_are_throttled_and_tokens_are_not(client, settings, token):
    settings.API_ANON_RATE = "3/min"
    for _ in range(3):
        assert client.get(f"{API}/model").status_code == 200
    error = _assert_error(client.get(f"{API}/model"), 429, "throttled")
    assert error["details"]["retry_after_seconds"] > 0
    auth = {"HTTP_AUTHORIZATION": f"Token {token.key}"}
    assert all(client.get(f"{API}/model", **auth).status_code == 200 for _ in range(5))
    _assert_error(
        client.get(f"{API}/model", HTTP_AUTHORIZATION="Token wrong"), 401, "authentication_failed"
    )


def _csv(body: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(body.decode("utf-8"))))


def test_batch_from_a_json_list_through_the_worker(client, queue, token, predictor):
    auth = {"HTTP_AUTHORIZATION": f"Token {token.key}"}
    smiles = ["CCO", "C1CC", "c1ccccc1O", 'CC,"O']
    created = _post_json(
        client, "/batches", {"smiles": smiles, "ids": ["a", "b", "c", "d"]}, **auth
    )
    assert created.status_code == 201, created.content
    batch_id = created.json()["id"]
    assert created["Location"].endswith(f"/batches/{batch_id}/")
    batch = Batch.objects.get(public_id=batch_id)
    assert batch.owner_key.startswith("token:") and token.key not in batch.owner_key
    queue()
    status = client.get(f"{API}/batches/{batch_id}", **auth).json()
    assert status["status"] == "done" and status["percent"] == 100
    assert (status["done_count"], status["failed_count"]) == (2, 2)
    rows = client.get(f"{API}/batches/{batch_id}/rows", {"page_size": 2}, **auth).json()
    assert rows["count"] == 4 and len(rows["results"]) == 2 and rows["next"]
    assert [r["input_id"] for r in rows["results"]] == ["a", "b"]
    assert rows["results"][1]["status"] == "error" and rows["results"][1]["error"]
    errors = client.get(f"{API}/batches/{batch_id}/rows", {"errors": "true"}, **auth).json()
    assert [r["input_smiles"] for r in errors["results"]] == ["C1CC", 'CC,"O']
    export = client.get(f"{API}/batches/{batch_id}/results.csv", **auth)
    assert export.status_code == 200 and export["Content-Type"].startswith("text/csv")
    table = _csv(b"".join(export.streaming_content))
    assert [r["smiles"] for r in table] == smiles
    sdf = client.get(f"{API}/batches/{batch_id}/results.sdf", **auth)
    assert b"$$$$" in b"".join(sdf.streaming_content)
    # Listed only for the token: not for an anonymous client, nor for the token's user
    # signed in on the site.
    assert [b["id"] for b in client.get(f"{API}/batches", **auth).json()] == [batch_id]
    assert client.get(f"{API}/batches").json() == []
    _assert_error(client.get(f"{API}/batches/{batch_id}"), 404, "not_found")
    _assert_error(client.get(f"{API}/batches/{batch_id}/results.csv"), 404, "not_found")
    client.force_login(token.user)
    assert client.get("/batches/").content.count(batch_id.encode()) == 0


def test_batch_upload_owned_by_the_session(client, queue, predictor):
    upload = SimpleUploadedFile("screen.csv", b"name,smiles\nx,CCO\ny,CCN\n")
    with TestCase.captureOnCommitCallbacks(execute=True):
        created = client.post(f"{API}/batches", {"file": upload})
    assert created.status_code == 201, created.content
    batch_id = created.json()["id"]
    queue()
    assert client.get(f"{API}/batches/{batch_id}").json()["done_count"] == 2
    # The same browser session sees it on the site too.
    assert client.get(f"/batches/{batch_id}/").status_code == 200
    cancelled = client.post(f"{API}/batches/{batch_id}/cancel").json()
    assert cancelled["status"] == "done"  # finished batches stay finished


def test_batch_refusals_are_400s(client):
    _assert_error(_post_json(client, "/batches", {}), 400, "invalid_input")
    _assert_error(
        _post_json(client, "/batches", {"smiles": ["C"], "ids": []}), 400, "invalid_input"
    )
    error = _assert_error(
        _post_json(client, "/batches", {"smiles": ["C\x00C"]}), 400, "invalid_input"
    )
    assert "NUL" in error["message"] or "nul" in error["message"].lower()


def test_schema_and_docs_are_served_without_a_cdn(client):
    schema = client.get(f"{API}/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert {"/api/v1/predict", "/api/v1/predictions", "/api/v1/model", "/api/v1/batches"} <= set(
        paths
    )
    docs = client.get(f"{API}/docs/")
    assert docs.status_code == 200
    page = docs.content.decode()
    assert "cdn" not in page.lower() and "/static/drf_spectacular_sidecar/" in page
    script = client.get(f"{API}/docs/", {"script": ""})
    assert script.status_code == 200 and b"SwaggerUIBundle" in script.content


def test_curators_create_api_tokens_in_the_admin(admin_client, django_user_model):
    user = django_user_model.objects.create_user("chemist", password="y" * 12)
    page = admin_client.get("/admin/authtoken/tokenproxy/add/")
    assert page.status_code == 200
    response = admin_client.post("/admin/authtoken/tokenproxy/add/", {"user": user.pk})
    assert response.status_code == 302
    assert Token.objects.filter(user=user).exists()


def test_results_zip_is_built_by_the_worker_then_downloaded(client, queue, predictor):
    created = _post_json(client, "/batches", {"smiles": ["CCO", "c1ccccc1O"]})
    batch_id = created.json()["id"]
    queue()
    error = _assert_error(client.get(f"{API}/batches/{batch_id}/results.zip"), 409, "not_ready")
    assert f"/api/v1/batches/{batch_id}/zip" in error["message"]
    assert client.get(f"{API}/batches/{batch_id}/zip").json()["status"] == "none"
    with TestCase.captureOnCommitCallbacks(execute=True):
        asked = client.post(f"{API}/batches/{batch_id}/zip")
    assert asked.status_code == 202 and asked.json()["status"] == "queued"
    queue()
    state = client.get(f"{API}/batches/{batch_id}/zip").json()
    assert state["status"] == "ready" and state["url"].endswith(f"/{batch_id}/results.zip")
    download = client.get(f"{API}/batches/{batch_id}/results.zip")
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content))) as bundle:
        names = bundle.namelist()
    assert "results.csv" in names and sum(n.startswith("molecules/") for n in names) == 2


def test_batch_status_says_what_the_worker_is_doing(client, queue, token, predictor):
    """The API reports the profiling stage and its count, as the batch page does."""
    auth = {"HTTP_AUTHORIZATION": f"Token {token.key}"}
    created = _post_json(client, "/batches", {"smiles": ["CCO", "CCN"]}, **auth)
    batch_id = created.json()["id"]
    status = client.get(f"{API}/batches/{batch_id}", **auth).json()
    assert (status["status"], status["stage"], status["profiled_rows"]) == ("queued", "", 0)
    Batch.objects.filter(public_id=batch_id).update(
        status=Batch.Status.RUNNING, stage=Batch.Stage.PROFILING, profiled_rows=1, done_count=2
    )
    status = client.get(f"{API}/batches/{batch_id}", **auth).json()
    assert (status["stage"], status["profiled_rows"], status["done_count"]) == ("profiling", 1, 2)
    schema = client.get(f"{API}/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    fields = schema["components"]["schemas"]["Batch"]["properties"]
    assert "RDKit profiles being computed" in fields["stage"]["description"]
    assert fields["profiled_rows"]["readOnly"] is True


def test_a_failed_batch_never_shows_a_server_path(client, queue, predictor, settings):
    """A worker's error naming a file (a vanished upload) is shown without the path."""
    created = _post_json(client, "/batches", {"smiles": ["CCO", "CCN"]})
    batch = Batch.objects.get(public_id=created.json()["id"])
    Path(batch.input_path).unlink()  # removed before the worker reads it
    queue()
    body = client.get(f"{API}/batches/{batch.public_id}").json()
    assert body["status"] == "failed" and "upload it again" in body["error"]
    Batch.objects.filter(pk=batch.pk).update(
        error=f"[Errno 13] Permission denied: '{settings.BATCH_UPLOAD_DIR}/x.csv'"
    )
    body = client.get(f"{API}/batches/{batch.public_id}").json()
    assert str(settings.BATCH_UPLOAD_DIR) not in body["error"] and "(a file)" in body["error"]
