"""Downloads drawn on request (report card, drug scatter, captioned plots) are drawn once per
version: repeat requests come from the render cache or as 304s, private items stay private."""

import pytest
from django.test import Client
from django.urls import reverse

from predictions.downloads import cache as download_cache
from predictions.downloads import report
from predictions.models import Prediction

pytestmark = pytest.mark.django_db
ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"


def url(prediction, name: str) -> str:
    return reverse("predictions:download", args=[prediction.public_id, name])


def predict(client: Client, smiles: str, *, private: bool) -> Prediction:
    data = {"smiles": smiles, **({"keep_private": "on"} if private else {})}
    response = client.post(reverse("predictions:home"), data)
    assert response.status_code == 302
    return Prediction.objects.get(public_id=response["Location"].rstrip("/").rsplit("/", 1)[1])


@pytest.fixture
def drawn(monkeypatch):
    """Counts report cards actually drawn (the real drawing still runs)."""
    calls = []
    real = report.report_figure

    def counting(prediction):
        calls.append(prediction.public_id)
        return real(prediction)

    monkeypatch.setattr(report, "report_figure", counting)
    return calls


def test_a_repeat_request_is_served_from_the_render_cache(client, predictor, drawn):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    prediction = predict(client, ASPIRIN, private=False)
    first = client.get(url(prediction, "report.png"))
    with CaptureQueriesContext(connection) as queries:
        again = client.get(url(prediction, "report.png"))  # no If-None-Match: a new visitor
    assert first.status_code == again.status_code == 200
    assert again.content == first.content and again["ETag"] == first["ETag"]
    assert drawn == [prediction.public_id]  # drawn once
    assert len(queries) == 1 and "_png" not in queries[0]["sql"]  # the version only
    assert again["Content-Disposition"] == first["Content-Disposition"]
    assert (
        client.get(url(prediction, "report.png"), HTTP_IF_NONE_MATCH=first["ETag"]).status_code
        == 304
    )


def test_a_changed_prediction_is_drawn_again(client, predictor, drawn):
    prediction = predict(client, ASPIRIN, private=False)
    first = client.get(url(prediction, "report.pdf"))
    prediction.title = "Aspirin"
    prediction.save()  # a curator's edit: a new version
    again = client.get(url(prediction, "report.pdf"), HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 200 and again["ETag"] != first["ETag"]
    assert again.content != first.content and len(drawn) == 2
    assert again["Content-Disposition"].endswith('aspirin-report.pdf"')


def test_the_code_version_is_part_of_the_etag(client, predictor, monkeypatch):
    prediction = predict(client, ASPIRIN, private=False)
    before = client.get(url(prediction, "drugs.png"))["ETag"]
    monkeypatch.setattr(download_cache, "CODE_VERSION", "another-renderer")
    again = client.get(url(prediction, "drugs.png"), HTTP_IF_NONE_MATCH=before)
    assert again.status_code == 200 and again["ETag"] != before


def test_two_visitors_never_get_each_others_private_items(predictor, drawn):
    alice, bob = Client(), Client()
    theirs = predict(alice, ASPIRIN, private=True)
    mine = predict(bob, "CCCCCCO", private=True)
    listed = predict(bob, "c1ccccc1N", private=False)
    for name in ("report.png", "drugs.svg", "plot.svg", "values.json"):
        hers = alice.get(url(theirs, name))
        his = bob.get(url(mine, name))
        assert hers.status_code == his.status_code == 200
        assert hers.content != his.content
        # Her version's ETag sent for his file is not his version: the whole file, his own.
        crossed = bob.get(url(mine, name), HTTP_IF_NONE_MATCH=hers["ETag"])
        assert crossed.status_code == 200 and crossed.content == his.content
        for response in (hers, his, crossed):
            assert (
                "private" in response["Cache-Control"] and "public" not in response["Cache-Control"]
            )
        assert "public" in bob.get(url(listed, name))["Cache-Control"]
    assert ASPIRIN in alice.get(url(theirs, "values.json")).content.decode()
    assert ASPIRIN not in bob.get(url(mine, "values.json")).content.decode()
    etag = alice.get(url(theirs, "report.png"))["ETag"]
    not_modified = alice.get(url(theirs, "report.png"), HTTP_IF_NONE_MATCH=etag)
    assert not_modified.status_code == 304 and "private" in not_modified["Cache-Control"]
    assert sorted(drawn) == sorted(p.public_id for p in (theirs, mine, listed))  # once each


def test_a_hidden_prediction_is_not_served_from_the_cache(client, predictor):
    prediction = predict(client, ASPIRIN, private=True)
    first = client.get(url(prediction, "report.png"))
    assert first.status_code == 200
    Prediction.objects.filter(pk=prediction.pk).update(hidden=True)  # a curator hides it
    assert client.get(url(prediction, "report.png")).status_code == 404
    assert (
        client.get(url(prediction, "report.png"), HTTP_IF_NONE_MATCH=first["ETag"]).status_code
        == 404
    )


def test_published_later_is_a_new_version(client, predictor):
    prediction = predict(client, ASPIRIN, private=True)
    first = client.get(url(prediction, "plot.svg") + "?download=1")
    assert "downloaded" in first.content.decode() and "private" in first["Cache-Control"]
    predict(client, ASPIRIN, private=False)  # someone predicts it publicly: now listed
    again = client.get(
        url(prediction, "plot.svg") + "?download=1", HTTP_IF_NONE_MATCH=first["ETag"]
    )
    assert again.status_code == 200 and "published" in again.content.decode()
    assert "public" in again["Cache-Control"]


@pytest.mark.slow
def test_the_render_cache_is_picked_by_the_environment(tmp_path):
    from tests.site.test_settings import run_manage, settings_value

    backend = "settings.CACHES['renders']['BACKEND'], settings.CACHES['renders'].get('LOCATION')"
    assert settings_value(backend) == "django.core.cache.backends.locmem.LocMemCache renders"
    shared = settings_value(backend, RENDER_CACHE="file", RENDER_CACHE_DIR=str(tmp_path))
    assert shared == f"django.core.cache.backends.filebased.FileBasedCache {tmp_path}"
    assert "DummyCache" in settings_value(backend, RENDER_CACHE="off")
    refused = run_manage("check", RENDER_CACHE="redis")  # no REDIS_URL
    assert refused.returncode != 0 and "RENDER_CACHE is memory, file, off" in refused.stderr


def test_a_download_get_writes_nothing_to_the_database(client, predictor):
    """Reads read: a picture not stored yet, or a report that needs one, is drawn for the
    answer (and kept in the render cache), never stored by the GET."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from predictions.downloads.exports import PICTURES

    prediction = predict(client, ASPIRIN, private=False)
    assert not prediction.molecule_png and not prediction.plot_png
    for name in [*PICTURES, "report.png", "alerts.svg", "values.csv"]:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url(prediction, name))
        assert response.status_code == 200, name
        writes = [q["sql"] for q in queries if not q["sql"].lstrip().upper().startswith("SELECT")]
        assert not writes, (name, writes)
    prediction.refresh_from_db()
    assert not prediction.molecule_png and not prediction.plot_png
