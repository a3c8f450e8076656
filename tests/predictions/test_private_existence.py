"""A molecule known only privately (a batch's, a "keep private" one) is, to anyone who asks for
it, what a never-seen molecule is: `created`, the model's run (the timing class), no date in
values.json and no Last-Modified while private, the publication date once listed.

Before: `POST /api/v1/predict` answered `created: false` in 21 ms instead of 69, and
values.json's `created_at` and the `Last-Modified` header gave the batch's upload time.
"""

import json
from datetime import timedelta
from email.utils import parsedate_to_datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, TestCase
from django.urls import reverse
from django.utils import timezone

from batches.models import Batch
from predictions.models import Prediction

pytestmark = pytest.mark.django_db

SECRET = "CC(C)(C)c1ccc(OCC(=O)N2CCOCC2)cc1"  # only ever in someone's batch
NEVER_SEEN = "CC(C)(C)c1ccc(OCC(=O)N2CCCCC2)cc1"
API = "/api/v1"


@pytest.fixture
def model_runs(predictor, monkeypatch):
    """Every SMILES the model is run on, in order."""
    from predictions.serving import get_model

    seen: list[str] = []
    serving = get_model()  # the one the site uses now (an earlier test may have reloaded it)
    real = serving.forward

    def spy(molecules, *args, **kwargs):
        seen.extend(m.canonical_smiles for m in molecules)
        return real(molecules, *args, **kwargs)

    monkeypatch.setattr(serving, "forward", spy)
    return seen


def _batch_only(queue, smiles: str = SECRET) -> Prediction:
    owner = Client()
    upload = SimpleUploadedFile("acme.csv", f"compound_id,smiles\nACME-1,{smiles}\n".encode())
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = owner.post(reverse("batches:list"), {"file": upload})
    assert response.status_code == 302
    queue()
    assert Batch.objects.get().status == Batch.Status.DONE
    stored = Prediction.objects.get(canonical_smiles=smiles)
    # Uploaded "a day ago": any date it leaked would show it.
    day_ago = timezone.now() - timedelta(days=1)
    Prediction.objects.filter(pk=stored.pk).update(created_at=day_ago, updated_at=day_ago)
    return stored


def _predict(client: Client, smiles: str, *, public: bool = False) -> dict:
    body = json.dumps({"smiles": [smiles], "public": public})
    response = client.post(f"{API}/predict", body, content_type="application/json")
    assert response.status_code == 200, response.content
    [item] = response.json()["results"]
    return item


def _what_a_caller_sees(client: Client, smiles: str, *, public: bool = False) -> dict:
    item = _predict(client, smiles, public=public)
    link = item["prediction"]["url"]
    values = client.get(f"{link}values.json")
    return {
        "created": item["created"],
        "published_at": item["prediction"]["published_at"],
        "created_at": values.json()["created_at"],
        "last_modified": values.get("Last-Modified"),
    }


def test_api_answers_a_batch_only_molecule_as_a_never_seen_one(queue, model_runs):
    _batch_only(queue)
    model_runs.clear()
    visitor = Client()
    secret = _what_a_caller_sees(visitor, SECRET)
    assert model_runs == [SECRET]  # the model ran again: a new molecule's cost, not a lookup
    fresh = _what_a_caller_sees(visitor, NEVER_SEEN)
    assert model_runs == [SECRET, NEVER_SEEN]
    expected = {"created": True, "published_at": None, "created_at": None, "last_modified": None}
    assert secret == fresh == expected
    # Still private, still the one stored row (the batch's rows point at it).
    assert Prediction.objects.filter(canonical_smiles=SECRET, public=False).count() == 1


def test_publishing_a_batch_only_molecule_dates_it_now(queue, model_runs):
    stored = _batch_only(queue)
    model_runs.clear()
    before = timezone.now().replace(microsecond=0)
    visitor = Client()
    secret = _what_a_caller_sees(visitor, SECRET, public=True)
    fresh = _what_a_caller_sees(visitor, NEVER_SEEN, public=True)
    assert model_runs == [SECRET, NEVER_SEEN]
    for seen in (secret, fresh):
        assert seen["created"] is True
        assert parsedate_to_datetime(seen["last_modified"]) >= before
        for field in ("created_at", "published_at"):
            assert timezone.datetime.fromisoformat(seen[field]) >= before, seen
    # Listed now: asking again is a lookup, and says so.
    model_runs.clear()
    assert _predict(Client(), SECRET)["created"] is False and model_runs == []
    assert Prediction.objects.get(pk=stored.pk).created_at < before  # the row is the same


def test_a_list_mixing_new_private_and_listed_molecules(queue, model_runs, client):
    _batch_only(queue)
    _predict(client, "CCO", public=True)
    model_runs.clear()
    body = json.dumps({"smiles": ["CCO", SECRET, NEVER_SEEN]})
    results = client.post(f"{API}/predict", body, content_type="application/json").json()
    assert [r["created"] for r in results["results"]] == [False, True, True]
    assert sorted(model_runs) == sorted([SECRET, NEVER_SEEN])  # one forward pass, both in it


def test_the_form_predicts_a_private_only_molecule_again(queue, model_runs):
    stored = _batch_only(queue)
    model_runs.clear()
    visitor = Client()
    page = visitor.post(
        reverse("predictions:home"), {"smiles": SECRET, "keep_private": "on"}, follow=True
    )
    assert page.status_code == 200 and model_runs == [SECRET]
    assert "predicted before" not in page.content.decode()
    values = visitor.get(reverse("predictions:download", args=[stored.public_id, "values.json"]))
    assert values.json()["created_at"] is None and not values.has_header("Last-Modified")
    # An ETag still answers conditional requests of a private file.
    again = visitor.get(
        reverse("predictions:download", args=[stored.public_id, "values.json"]),
        HTTP_IF_NONE_MATCH=values["ETag"],
    )
    assert again.status_code == 304


def test_the_answer_describes_the_callers_input_not_the_first_storers(queue, predictor):
    """The batch stored the sodium salt; the caller asks for the acid: the answer's note is the
    caller's (none), as for a never-seen molecule, not the batch's "salt" note."""
    acid = "CC(C)(C)c1ccc(OCC(=O)O)cc1"
    owner = Client()
    upload = SimpleUploadedFile("acme.csv", b"smiles\nCC(C)(C)c1ccc(OCC(=O)[O-])cc1.[Na+]\n")
    with TestCase.captureOnCommitCallbacks(execute=True):
        owner.post(reverse("batches:list"), {"file": upload})
    queue()
    stored = Prediction.objects.get()
    assert stored.standardisation_note  # the batch's input was a salt
    item = _predict(Client(), acid)
    assert item["created"] is True and item["prediction"]["id"] == stored.public_id
    assert item["standardisation_note"] == item["prediction"]["standardisation_note"] == ""
    assert item["prediction"]["parent_note"] == ""
    assert Prediction.objects.get().standardisation_note == stored.standardisation_note


def test_a_private_link_shows_nothing_of_how_the_first_caller_wrote_it(queue, predictor):
    """The batch stored the sodium salt; someone predicts the acid privately: their page and
    values.json are what a never-seen acid's would be (no "Input" salt, no salt note)."""
    owner = Client()
    upload = SimpleUploadedFile("acme.csv", b"smiles\nCC(C)(C)c1ccc(OCC(=O)[O-])cc1.[Na+]\n")
    with TestCase.captureOnCommitCallbacks(execute=True):
        owner.post(reverse("batches:list"), {"file": upload})
    queue()
    stored = Prediction.objects.get()
    visitor = Client()
    acid = "CC(C)(C)c1ccc(OCC(=O)O)cc1"
    page = visitor.post(
        reverse("predictions:home"), {"smiles": acid, "keep_private": "on"}, follow=True
    ).content.decode()
    assert "Na+" not in page and "Mixture or salt" not in page
    values = visitor.get(reverse("predictions:download", args=[stored.public_id, "values.json"]))
    body = values.json()
    assert body["input"] == body["canonical_smiles"] == stored.canonical_smiles
    assert body["standardisation_note"] == "" and not body["parent_note"]
    api = visitor.get(f"{API}/predictions/{stored.public_id}").json()
    assert api["standardisation_note"] == "" and not api["parent_note"]
    # Whoever types a salt privately is told what its values are for, once, as a message.
    salt = Client().post(
        reverse("predictions:home"),
        {"smiles": "CC(C)(C)c1ccc(OCC(=O)[O-])cc1.[K+]", "keep_private": "on"},
        follow=True,
    )
    assert salt.content.decode().count("Mixture or salt") == 1
