"""Curator admin: list with thumbnails, search, filters, actions, and add-by-SMILES."""

import pytest
from django.contrib.auth.models import User

from predictions.models import Prediction, Source


@pytest.fixture
def curator(client, db):
    user = User.objects.create_superuser("curator", "c@example.org", "pass-for-tests-only")
    client.force_login(user)
    return client


def test_changelist_shows_thumbnails_and_filters(curator, make_prediction):
    prediction = make_prediction("CCO", title="Ethanol")
    response = curator.get("/admin/predictions/prediction/")
    html = response.content.decode()
    assert response.status_code == 200
    assert f"/predictions/{prediction.public_id}/molecule.png" in html
    for word in ("featured", "source", "model_name", "created_at"):
        assert word in html


def test_search(curator, make_prediction):
    make_prediction("CCO", title="Ethanol")
    make_prediction("c1ccccc1", title="Benzene")
    html = curator.get("/admin/predictions/prediction/?q=benz").content.decode()
    assert "Benzene" in html and "Ethanol" not in html


@pytest.mark.parametrize(
    ("action", "field", "value"),
    [("feature", "featured", True), ("hide", "hidden", True)],
)
def test_bulk_actions(curator, make_prediction, action, field, value):
    prediction = make_prediction("CCO")
    response = curator.post(
        "/admin/predictions/prediction/",
        {"action": action, "_selected_action": [str(prediction.pk)]},
        follow=True,
    )
    assert response.status_code == 200
    prediction.refresh_from_db()
    assert getattr(prediction, field) is value


def test_unfeature_action(curator, make_prediction):
    prediction = make_prediction("CCO", featured=True)
    curator.post(
        "/admin/predictions/prediction/",
        {"action": "unfeature", "_selected_action": [str(prediction.pk)]},
    )
    prediction.refresh_from_db()
    assert prediction.featured is False


def test_change_page_shows_previews_and_blobs_are_read_only(curator, make_prediction):
    prediction = make_prediction("CCO")
    html = curator.get(f"/admin/predictions/prediction/{prediction.pk}/change/").content.decode()
    assert f"/predictions/{prediction.public_id}/molecule.svg" in html
    assert f"/predictions/{prediction.public_id}/plot.svg" in html
    assert 'name="canonical_smiles"' not in html  # read-only, not an input


def test_add_by_smiles_computes_prediction_on_save(curator, predictor):
    response = curator.post(
        "/admin/predictions/prediction/add/",
        {"smiles": "CC(=O)Oc1ccccc1C(=O)O", "title": "Aspirin", "note": "", "featured": "on"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    prediction = Prediction.objects.get()
    assert prediction.title == "Aspirin" and prediction.featured
    assert prediction.source == Source.ADMIN
    assert prediction.model_hash == predictor.weights_hash
    assert len(prediction.outputs) == len(predictor.outputs)
    assert bytes(prediction.molecule_png).startswith(b"\x89PNG")


def test_add_by_invalid_smiles_shows_reason(curator):
    response = curator.post("/admin/predictions/prediction/add/", {"smiles": "C1CC", "title": "x"})
    assert response.status_code == 200
    assert "unclosed ring" in response.content.decode()
    assert Prediction.objects.count() == 0


def test_add_existing_molecule_links_to_it(curator, make_prediction):
    existing = make_prediction("CCO")
    response = curator.post("/admin/predictions/prediction/add/", {"smiles": "OCC"})
    assert response.status_code == 200
    assert f"/admin/predictions/prediction/{existing.pk}/change/" in response.content.decode()
    assert Prediction.objects.count() == 1
