"""A finished batch's streamed files answer conditional requests (ETag, 304), on the pages and
in the API; a batch that can still change carries no ETag; nothing leaks to another visitor."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, TestCase
from django.urls import reverse
from rest_framework.authtoken.models import Token

from batches.models import Batch

pytestmark = pytest.mark.django_db


def _upload(client: Client) -> Batch:
    with TestCase.captureOnCommitCallbacks(execute=True):
        client.post(
            reverse("batches:list"),
            {"file": SimpleUploadedFile("a.csv", b"smiles\nCCO\nc1ccccc1O\nnot-a-smiles\n")},
        )
    return Batch.objects.get()


def _url(batch: Batch, name: str) -> str:
    return reverse("batches:download", args=[batch.public_id, name])


def test_a_finished_batch_file_answers_304_to_its_etag(client, queue, predictor):
    batch = _upload(client)
    queued = client.get(_url(batch, "results.csv"))  # not run yet: the file can still change
    assert queued.status_code == 200 and not queued.has_header("ETag")
    assert "private" in queued["Cache-Control"]
    queue()
    first = client.get(_url(batch, "results.csv"))
    body = b"".join(first.streaming_content)
    tag = first["ETag"]
    assert first.status_code == 200 and tag.startswith('"') and b"c1ccccc1O" in body
    assert "private" in first["Cache-Control"] and "no-cache" in first["Cache-Control"]
    again = client.get(_url(batch, "results.csv"), HTTP_IF_NONE_MATCH=tag)
    assert again.status_code == 304 and again["ETag"] == tag and not again.content
    assert "private" in again["Cache-Control"]
    # Each file and precision is its own version.
    full = client.get(_url(batch, "results.csv") + "?precision=full")
    sdf = client.get(_url(batch, "results.sdf"), HTTP_IF_NONE_MATCH=tag)
    assert sdf.status_code == 200 and len({tag, full["ETag"], sdf["ETag"]}) == 3
    stale = client.get(_url(batch, "results.csv"), HTTP_IF_NONE_MATCH='"older"')
    assert stale.status_code == 200 and b"".join(stale.streaming_content) == body
    # Another visitor holding the ETag learns nothing: the batch is not theirs.
    assert Client().get(_url(batch, "results.csv"), HTTP_IF_NONE_MATCH=tag).status_code == 404


def test_the_api_answers_304_too(client, queue, predictor, django_user_model):
    user = django_user_model.objects.create_user("robot", password="x" * 12)
    auth = {"HTTP_AUTHORIZATION": f"Token {Token.objects.create(user=user).key}"}
    with TestCase.captureOnCommitCallbacks(execute=True):
        created = client.post(
            "/api/v1/batches", {"smiles": ["CCO", "CCN"]}, content_type="application/json", **auth
        )
    assert created.status_code == 201, created.content
    queue()
    url = f"/api/v1/batches/{created.json()['id']}/results.csv"
    first = client.get(url, **auth)
    assert first.status_code == 200 and first.has_header("ETag")
    assert client.get(url, HTTP_IF_NONE_MATCH=first["ETag"], **auth).status_code == 304


def test_a_stopped_batch_carries_no_etag(client, queue, predictor):
    batch = _upload(client)
    queue()
    Batch.objects.filter(pk=batch.pk).update(status=Batch.Status.CANCELLED)
    response = client.get(_url(batch, "results.csv"))
    assert response.status_code == 200 and not response.has_header("ETag")
