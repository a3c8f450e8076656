"""Predict one SMILES through the home page form: stored, shown, refused with reasons."""

import pytest
from django.urls import reverse

from predictions.models import Prediction

HOME = "/"


@pytest.fixture(autouse=True)
def _db(db):
    pass


def test_home_page_has_form_and_random_button(client):
    response = client.get(HOME)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="smiles"' in html and "csrfmiddlewaretoken" in html
    assert reverse("predictions:random") in html


def test_the_form_is_rendered_by_django_with_the_fields_attributes(client):
    html = client.get(HOME).content.decode()
    for attribute in ('class="smiles-input"', 'autocomplete="off"', 'spellcheck="false"'):
        assert attribute in html
    assert 'aria-describedby="id_smiles_helptext"' in html and 'id="id_smiles_helptext"' in html
    assert "aria-invalid" not in html


def test_an_error_is_tied_to_the_field(client, predictor):
    html = client.post(HOME, {"smiles": "C1CC"}).content.decode()
    assert 'aria-invalid="true"' in html
    assert 'aria-describedby="id_smiles_helptext id_smiles_error"' in html
    assert '<ul class="errorlist" id="id_smiles_error"><li>' in html
    assert "unclosed ring" in html


def test_valid_smiles_is_predicted_stored_and_shown(client, predictor):
    response = client.post(HOME, {"smiles": "CC(=O)Oc1ccccc1C(=O)O"})
    assert response.status_code == 302
    prediction = Prediction.objects.get()
    assert response["Location"] == prediction.get_absolute_url()
    assert prediction.canonical_smiles == "CC(=O)Oc1ccccc1C(=O)O"
    assert prediction.model_hash == predictor.weights_hash
    assert [o["label"] for o in prediction.outputs] == [o.label for o in predictor.outputs]
    # No picture is drawn by the POST: each is drawn on request (and kept in the render cache).
    assert not prediction.molecule_svg and not prediction.plot_svg
    assert not prediction.molecule_png and not prediction.plot_png
    for name in ("molecule.svg", "plot.svg"):
        assert "<svg" in client.get(f"{response['Location']}{name}").content.decode()
    prediction.refresh_from_db()
    assert not prediction.molecule_svg and not prediction.plot_svg  # reads never write

    page = client.get(response["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    for output in prediction.outputs:
        assert output["label"] in html and output["unit"] in html
    assert "C9H8O4" in html and prediction.model_name in html
    for name in ("molecule.svg", "plot.svg", "values.csv", "bundle.zip"):
        assert f"/predictions/{prediction.public_id}/{name}" in html


def test_same_molecule_twice_is_stored_once(client):
    first = client.post(HOME, {"smiles": "OCC"})
    second = client.post(HOME, {"smiles": "C(O)C"}, follow=True)
    assert Prediction.objects.count() == 1
    assert second.redirect_chain[-1][0] == first["Location"]
    assert "predicted before" in second.content.decode()


def test_a_stored_molecule_is_answered_without_pictures_or_writes(client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.post(HOME, {"smiles": "OCC"})
    with CaptureQueriesContext(connection) as queries:
        assert client.post(HOME, {"smiles": "C(O)C"}).status_code == 302
    sql = [q["sql"] for q in queries if "predictions_prediction" in q["sql"]]
    assert len(sql) == 1 and sql[0].startswith("SELECT")
    assert not any(blob in sql[0] for blob in Prediction.BLOB_FIELDS)


def test_salt_is_stripped_and_the_page_says_so(client):
    response = client.post(HOME, {"smiles": "CC(=O)[O-].[Na+]"}, follow=True)
    prediction = Prediction.objects.get()
    assert prediction.canonical_smiles == "CC(=O)O"  # kept fragment, neutralised (chemcore)
    assert "largest organic fragment" in response.content.decode()
    assert "[Na+]" in prediction.standardisation_note


@pytest.mark.parametrize(
    ("smiles", "message"),
    [
        ("C1CC", "unclosed ring"),
        ("C(C)(C)(C)(C)C", "Explicit valence"),
        ("c1cccc1", "kekulize"),
        ("", "Please enter a SMILES string."),
        ("C" * 501, "limit is 500 characters"),
    ],
)
def test_refused_input_shows_reason_and_stores_nothing(client, smiles, message):
    response = client.post(HOME, {"smiles": smiles})
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html
    assert 'aria-invalid="true"' in html
    assert Prediction.objects.count() == 0


def test_smiles_over_the_model_token_limit_is_refused(client, predictor, settings):
    settings.SMILES_MAX_CHARS = 10_000
    response = client.post(HOME, {"smiles": "C" * (predictor.max_tokens + 1)})
    assert response.status_code == 400
    assert "too long for the model" in response.content.decode()
    assert Prediction.objects.count() == 0


def test_user_text_is_escaped(client, make_prediction):
    prediction = make_prediction("CCO")
    Prediction.objects.filter(pk=prediction.pk).update(title="<script>alert(1)</script>")
    for url in (prediction.get_absolute_url(), "/gallery/", HOME):
        html = client.get(url).content.decode()
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    refused = client.post(HOME, {"smiles": "<b>x</b>"}).content.decode()
    assert "<b>x</b>" not in refused


def test_csrf_is_enforced(predictor):
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post(HOME, {"smiles": "CCO"})
    assert response.status_code == 403
    assert Prediction.objects.count() == 0


def test_unknown_and_malformed_ids_are_friendly_404s(client):
    for url in (
        "/predictions/999999/",
        "/predictions/not-an-id/",
        "/predictions/5f1d7a3e9c1b2a0012345678/",
    ):
        response = client.get(url)
        assert response.status_code == 404
        assert "Page not found" in response.content.decode()


def test_hidden_predictions_are_not_served(client, make_prediction):
    prediction = make_prediction("CCO")
    Prediction.objects.filter(pk=prediction.pk).update(hidden=True)
    assert client.get(prediction.get_absolute_url()).status_code == 404
    assert "CCO" not in client.get("/gallery/").content.decode()


@pytest.mark.parametrize(("text", "position"), [("C😀", 2), ("😀C", 1), ("c1ccccc1ééé", 9)])
def test_non_ascii_input_is_refused_not_silently_changed(client, text, position):
    response = client.post(HOME, {"smiles": text})
    assert response.status_code == 400
    assert f"at position {position} is not ASCII" in response.content.decode()
    assert not Prediction.objects.exists()


def test_a_pasted_byte_order_mark_is_dropped(client, predictor):
    assert client.post(HOME, {"smiles": "\ufeffCCO"}).status_code == 302
    assert Prediction.objects.get().input_text == "CCO"


def _section(html: str, heading: str) -> str:
    """The HTML of the home page section under `heading`, or "" when it is not shown."""
    start = html.find(f">{heading}</h2>")
    return html[start : html.find("</section>", start)] if start >= 0 else ""


def test_recent_predictions_are_the_users_not_the_examples_again(client, make_prediction):
    from predictions.models import Source

    make_prediction("CCO", title="Ethanol", source=Source.EXAMPLE, featured=True)
    make_prediction("CCCO", title="Propanol", source=Source.EXAMPLE)  # unfeatured example
    make_prediction("CCCCCO", title="Pentanol", public=False)  # kept private
    html = client.get(HOME).content.decode()
    assert "Ethanol" in _section(html, "Featured")
    assert _section(html, "Recent predictions") == ""  # nothing users made: hidden

    client.post(HOME, {"smiles": "c1ccccc1O"})
    make_prediction("CCCCO", title="Butanol", featured=True)  # featured: listed there only
    html = client.get(HOME).content.decode()
    recent = _section(html, "Recent predictions")
    assert "Oc1ccccc1" in recent  # phenol, canonical
    for title in ("Ethanol", "Propanol", "Pentanol", "Butanol"):
        assert title not in recent


@pytest.mark.django_db(transaction=True)  # autocommit, as requests run when served
def test_the_worker_gets_its_pictures_even_when_keeping_them_fails(client, predictor):
    """Storing drawn pictures (the batch worker's picture pass) is only a saving: a database
    that refuses the write (here a real SQLite trigger, as a locked table would) still gets
    the caller the pictures, and a later pass stores them."""
    from django.db import connection

    from predictions import services

    client.post(HOME, {"smiles": "CCOC(=O)c1ccccc1"})
    table = Prediction._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TRIGGER refuse_pictures BEFORE UPDATE OF plot_svg ON {table} "
            "BEGIN SELECT RAISE(ABORT, 'refused for the test'); END"
        )
    try:
        drawn = services.prediction_ensure_blobs(
            prediction=Prediction.objects.get(), fields=("plot_svg",)
        )
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER refuse_pictures")
    assert "<svg" in drawn.plot_svg
    assert not Prediction.objects.get().plot_svg  # not kept
    services.prediction_ensure_blobs(prediction=Prediction.objects.get(), fields=("plot_svg",))
    assert "<svg" in Prediction.objects.get().plot_svg
