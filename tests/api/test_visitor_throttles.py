"""Per-visitor throttles on what costs the most: batch uploads (the batch page, a pasted list and
the API, counted together) and heavy downloads (report cards, bundle.zip, captioned plots).

Before: 20 form uploads were accepted in 0.8 s, and 8 clients asking for report.pdf,
report.png, bundle.zip and captioned plots held the site at 1.5 requests/s.
"""

import json

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from batches.models import Batch

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_counts():
    cache.clear()  # the counters live in the default cache
    yield
    cache.clear()


def _download(client: Client, prediction, name: str, saved: bool = True):
    url = reverse("predictions:download", args=[prediction.public_id, name])
    return client.get(url + ("?download=1" if saved else ""))


def _assert_429(response, most: int = 60) -> None:
    assert response.status_code == 429, response.status_code
    assert 0 < int(response["Retry-After"]) <= most
    assert "try again in" in response.content.decode()


def test_heavy_downloads_are_throttled_per_visitor(settings, make_prediction):
    settings.HEAVY_DOWNLOAD_RATE = "3/min"
    aspirin = make_prediction()
    visitor, other = Client(REMOTE_ADDR="203.0.113.7"), Client(REMOTE_ADDR="203.0.113.8")
    assert _download(visitor, aspirin, "plot.svg").status_code == 200  # captioned
    assert _download(visitor, aspirin, "drugs.svg").status_code == 200  # captioned
    assert _download(visitor, aspirin, "report.png", saved=False).status_code == 200
    for name in ("report.pdf", "bundle.zip", "report.png", "plot.png"):
        _assert_429(_download(visitor, aspirin, name))
    # What the result page shows is not counted, nor refused.
    for name in ("plot.svg", "molecule.svg", "values.json", "plot-phone.svg"):
        assert _download(visitor, aspirin, name, saved=False).status_code == 200, name
    # Another address has its own count; a curator signed in is not counted.
    assert _download(other, aspirin, "report.png", saved=False).status_code == 200
    curator = Client(REMOTE_ADDR="203.0.113.7")
    curator.force_login(User.objects.create_superuser("curator", "c@example.org", "pw-tests"))
    assert _download(curator, aspirin, "report.png", saved=False).status_code == 200


def test_a_forged_forwarded_for_does_not_reset_the_download_count(settings, make_prediction):
    settings.HEAVY_DOWNLOAD_RATE = "1/min"
    aspirin = make_prediction()
    client = Client()
    statuses = [
        client.get(
            reverse("predictions:download", args=[aspirin.public_id, "plot.svg"]) + "?download=1",
            HTTP_X_FORWARDED_FOR=f"10.0.0.{n}",
        ).status_code
        for n in range(3)
    ]
    assert statuses == [200, 429, 429]


def test_batch_uploads_are_throttled_per_visitor_form_paste_and_api(settings, predictor):
    settings.BATCH_UPLOAD_RATE = "2/hour"
    visitor = Client()

    def upload() -> int:
        data = SimpleUploadedFile("mols.csv", b"smiles\nCCO\nCCN\n")
        return visitor.post(reverse("batches:list"), {"file": data}).status_code

    assert [upload(), upload()] == [302, 302]
    refused = visitor.post(
        reverse("batches:list"), {"file": SimpleUploadedFile("m.csv", b"smiles\nC\n")}
    )
    _assert_429(refused, most=3600)
    assert int(refused["Retry-After"]) > 60  # an hour's window: wait for its oldest upload
    pasted = visitor.post(reverse("predictions:home"), {"smiles": "CCO\nCCN\nCCC"})
    assert pasted.status_code == 429 and pasted["Retry-After"]
    api = visitor.post(
        "/api/v1/batches", json.dumps({"smiles": ["CCO", "CCN"]}), content_type="application/json"
    )
    assert api.status_code == 429 and api.json()["error"]["code"] == "throttled"
    assert Batch.objects.count() == 2
    # The visitor can still list their batches and predict single molecules.
    assert visitor.get(reverse("batches:list")).status_code == 200
    single = visitor.post(reverse("predictions:home"), {"smiles": "CCO"})
    assert single.status_code == 302
    # Someone else is not held back by this visitor.
    other = Client(REMOTE_ADDR="198.51.100.4")
    data = SimpleUploadedFile("mols.csv", b"smiles\nCCO\n")
    assert other.post(reverse("batches:list"), {"file": data}).status_code == 302


def test_api_tokens_lift_the_batch_upload_throttle(settings, predictor):
    from rest_framework.authtoken.models import Token

    settings.BATCH_UPLOAD_RATE = "1/hour"
    user = User.objects.create_user("robot", password="pw-tests-only")
    auth = {"HTTP_AUTHORIZATION": f"Token {Token.objects.create(user=user).key}"}
    client = Client()
    body = json.dumps({"smiles": ["CCO", "CCN"]})
    statuses = [
        client.post("/api/v1/batches", body, content_type="application/json", **auth).status_code
        for _ in range(3)
    ]
    assert statuses == [201, 201, 201]
