"""Curator admin: list with thumbnails, search, filters, actions, and add-by-SMILES."""

from urllib.parse import quote

import pytest
from django.contrib.auth.models import User

from predictions.models import Prediction, Source


@pytest.fixture
def curator(client, db):
    user = User.objects.create_superuser("curator", "c@example.org", "pass-for-tests-only")
    client.force_login(user)
    return client


def test_changelist_shows_thumbnails_and_names(curator, make_prediction):
    prediction = make_prediction("CCO", title="Ethanol")
    response = curator.get("/admin/predictions/prediction/")
    html = response.content.decode()
    assert response.status_code == 200
    assert f"/predictions/{prediction.public_id}/molecule.png" in html
    assert f'href="/admin/predictions/prediction/{prediction.pk}/change/">Ethanol</a>' in html


def test_changelist_filters_narrow_the_list(curator, make_prediction):
    make_prediction("CCO", title="Ethanol", source=Source.EXAMPLE, featured=True)
    benzene = make_prediction("c1ccccc1", title="Benzene")
    Prediction.objects.filter(pk=benzene.pk).update(hidden=True)
    changelist = "/admin/predictions/prediction/"
    html = curator.get(changelist).content.decode()
    sidebar = html[html.index('id="changelist-filter"') :]
    for title in ("featured", "hidden", "public", "model name", "source", "created at"):
        assert f'data-filter-title="{title}"' in sidebar

    def titles(query: str) -> set[str]:
        response = curator.get(f"{changelist}?{query}")
        assert response.status_code == 200  # a filter the admin lacks redirects to ?e=1
        return {p.title for p in response.context["cl"].result_list}

    assert titles("featured__exact=1") == {"Ethanol"}
    assert titles("hidden__exact=1") == {"Benzene"}
    assert titles("source__exact=form") == {"Benzene"}
    Prediction.objects.filter(pk=benzene.pk).update(public=False)
    assert titles("public__exact=0") == {"Benzene"}
    assert titles(f"model_name={quote(benzene.model_name)}") == {"Ethanol", "Benzene"}
    assert titles("model_name=another") == set()
    day = quote("2000-01-01 00:00:00+00:00")
    assert titles(f"created_at__lt={day}") == set()
    assert titles(f"created_at__gte={day}") == {"Ethanol", "Benzene"}


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
    assert "<svg" in prediction.molecule_svg and "<svg" in prediction.plot_svg


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
