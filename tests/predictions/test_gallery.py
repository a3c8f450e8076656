"""Gallery paging and search, and the random-example redirect on an empty and a full site."""

import pytest
from django.urls import reverse

from predictions.models import Prediction

SMILES = ["CCO", "CCCO", "CCCCO", "CCCCCO", "CCCCCCO", "c1ccccc1", "c1ccccc1O", "CC(=O)O"]


@pytest.fixture
def stored(store_predictions):
    """Real predictions, predicted in one call and stored without pictures, as batches do."""
    return store_predictions(SMILES)


def cards(response) -> int:
    return response.content.decode().count('class="card"')


def test_cards_link_the_result_page_and_its_thumbnail(client, stored):
    html = client.get("/gallery/").content.decode()
    for prediction in stored:
        thumbnail = reverse("predictions:download", args=[prediction.public_id, "molecule.png"])
        assert f'<a href="{prediction.get_absolute_url()}">' in html
        assert f'<img src="{thumbnail}"' in html


def test_pagination_with_page_size(client, stored):
    first = client.get("/gallery/?page_size=12")
    assert cards(first) == len(SMILES)
    page1 = client.get("/gallery/?page_size=12&page=1")
    assert "Page 1 of 1" in page1.content.decode()


@pytest.mark.parametrize("page", ["abc", "0", "-1", "999", "1.5", ""])
def test_bad_page_values_are_handled(client, stored, page):
    response = client.get(f"/gallery/?page={page}")
    assert response.status_code == 200
    assert cards(response) > 0


def test_bad_page_size_falls_back_to_default(client, stored):
    response = client.get("/gallery/?page_size=7")
    assert response.status_code == 200
    assert cards(response) == len(SMILES)


def test_many_pages(client, stored, settings):
    response = client.get("/gallery/?page_size=12")
    assert "Next" not in response.content.decode()
    Prediction.objects.bulk_create(
        Prediction(
            input_text=f"C{i}",
            canonical_smiles=f"fake{i}",
            model_name="m",
            model_hash=f"{i}",
            public=True,
        )
        for i in range(20)
    )
    page2 = client.get("/gallery/?page_size=12&page=2")
    html = page2.content.decode()
    assert "Page 2 of 3" in html and 'rel="prev"' in html and "page_size=12" in html
    assert cards(page2) == 12


def test_page_links_keep_the_search_and_the_form_shows_it(client, stored):
    Prediction.objects.bulk_create(
        Prediction(
            input_text="x",
            canonical_smiles=f"CC{i}O",
            model_name="m",
            model_hash=f"{i}",
            public=True,
        )
        for i in range(20)
    )
    html = client.get("/gallery/?q=O&featured=&page_size=12&page=2").content.decode()
    assert 'href="?q=O&amp;featured=&amp;page_size=12&amp;page=1"' in html
    assert 'href="?q=O&amp;featured=&amp;page_size=12&amp;page=3"' in html
    assert '<input type="search" name="q" value="O"' in html
    assert '<option value="12" selected>' in html
    # A bad page size shows as the default actually used.
    html = client.get("/gallery/?page_size=7").content.decode()
    assert '<option value="24" selected>' in html


def test_search_by_smiles_substring_and_title(client, stored):
    Prediction.objects.filter(canonical_smiles="c1ccccc1").update(title="Benzene")
    by_smiles = client.get("/gallery/?q=c1ccccc1")
    assert cards(by_smiles) == 2
    by_title = client.get("/gallery/?q=benz")
    assert cards(by_title) == 1 and "Benzene" in by_title.content.decode()
    assert cards(client.get("/gallery/?q=nothing-like-this")) == 0


def test_featured_filter(client, stored):
    Prediction.objects.filter(canonical_smiles="CCO").update(featured=True)
    response = client.get("/gallery/?featured=on")
    assert cards(response) == 1


def test_random_without_examples_has_empty_state(client, db):
    response = client.get("/random/")
    assert response.status_code == 200
    assert "No examples yet" in response.content.decode()


def test_random_prefers_featured(client, stored):
    featured = stored[3]
    Prediction.objects.filter(pk=featured.pk).update(featured=True)
    for _ in range(5):
        response = client.get("/random/")
        assert response.status_code == 302
        assert response["Location"] == featured.get_absolute_url()


def test_random_picks_any_visible_when_none_featured(client, stored):
    seen = {client.get("/random/")["Location"] for _ in range(40)}
    assert len(seen) > 1
    assert seen <= {p.get_absolute_url() for p in stored}
