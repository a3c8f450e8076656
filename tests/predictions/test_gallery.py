"""Gallery paging and search, and the random-example redirect on an empty and a full site."""

import copy
import re

import pytest
from django.urls import reverse
from rdkit import Chem

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


# Sorting by a predicted output (issue #20, item 5).

CARD_LINK = re.compile(r'<li class="card">\s*<a href="/predictions/([^/]+)/">')


def shown(response) -> list[str]:
    """The public ids of the cards on the page, in page order."""
    return CARD_LINK.findall(response.content.decode())


def by_value(predictions, index: int, *, descending: bool) -> list[str]:
    ranked = sorted(predictions, key=lambda p: p.outputs[index]["value"], reverse=descending)
    return [p.public_id for p in ranked]


@pytest.mark.parametrize("index", [0, 3])
def test_sort_by_an_output_both_ways(client, stored, index):
    low_first = shown(client.get(f"/gallery/?sort=o{index}"))
    assert low_first == by_value(stored, index, descending=False)
    high_first = shown(client.get(f"/gallery/?sort=-o{index}"))
    assert high_first == by_value(stored, index, descending=True)
    assert len(set(p.outputs[index]["value"] for p in stored)) > 1  # the order means something


def test_sort_choices_come_from_the_model_and_the_form_shows_the_one_used(
    client, stored, predictor
):
    html = client.get("/gallery/?sort=-o0").content.decode()
    assert '<label for="id_sort">Sort by</label>' in html
    assert '<option value="" >' not in html  # "newest" is not the selected one
    solubility = predictor.outputs[0]
    assert solubility.favourable == "higher"
    assert f'<option value="-o0" selected>{solubility.label}, high to low (favourable first)' in (
        html.replace("&#x27;", "'")
    )
    for index, spec in enumerate(predictor.outputs):
        assert f'<option value="o{index}">{spec.label}, low to high' in html
    # The default: featured first, then newest, as before.
    Prediction.objects.filter(pk=stored[2].pk).update(featured=True)
    assert shown(client.get("/gallery/"))[0] == stored[2].public_id
    assert (
        '<option value="" selected>Newest first</option>'
        in client.get("/gallery/").content.decode()
    )


@pytest.mark.parametrize("value", ["o99", "-o7", "bogus", "o-1", "-"])
def test_a_bad_sort_falls_back_to_newest(client, stored, value):
    response = client.get("/gallery/", {"sort": value})
    assert response.status_code == 200
    assert shown(response) == shown(client.get("/gallery/"))
    assert '<option value="" selected>Newest first</option>' in response.content.decode()


def test_sort_combines_with_a_verdict_filter_and_a_text_search(client, stored):
    out = [p for p in stored if p.canonical_smiles in ("CCO", "CCCCO", "c1ccccc1", "CC(=O)O")]
    Prediction.objects.filter(pk__in=[p.pk for p in out]).update(verdict="out")
    Prediction.objects.exclude(pk__in=[p.pk for p in out]).update(verdict="in")
    filtered = shown(client.get("/gallery/?verdict=out&sort=-o1"))
    assert filtered == by_value(out, 1, descending=True)
    # A text search ("O": every alcohol and the acid) and the filter, low first.
    matching = [p for p in out if "O" in p.canonical_smiles]
    assert len(matching) == 3
    both = shown(client.get("/gallery/?q=O&verdict=out&sort=o1"))
    assert both == by_value(matching, 1, descending=False)


def test_sort_combines_with_structure_searches(client, stored):
    # Substructure: the matches in the chosen order.
    pattern = Chem.MolFromSmiles("CCO")
    matches = [
        p for p in stored if Chem.MolFromSmiles(p.canonical_smiles).HasSubstructMatch(pattern)
    ]
    assert len(matches) == 6  # the alcohols and acetic acid
    found = shown(client.get("/gallery/?q=CCO&mode=substructure&sort=-o2"))
    assert found == by_value(matches, 2, descending=True)
    # Similarity: the hits put in the chosen order (not most similar first), scores still shown.
    similar = client.get("/gallery/?q=CCCCO&mode=similar&similarity=0.1&sort=o0")
    ids = shown(similar)
    hits = [p for p in stored if p.public_id in ids]
    assert len(hits) >= 3 and ids == by_value(hits, 0, descending=False)
    assert "Similarity 1.00" in similar.content.decode()
    unsorted = shown(client.get("/gallery/?q=CCCCO&mode=similar&similarity=0.1"))
    assert sorted(unsorted) == sorted(ids) and unsorted[0] == stored[2].public_id


def _more_of_this_model(stored, count: int) -> list[Prediction]:
    """Listed copies of a real prediction with made-up values for output 0 (what a card needs)."""
    template = stored[0]
    made = []
    for i in range(count):
        outputs = copy.deepcopy(template.outputs)
        outputs[0]["value"] = -12.0 + i * 0.37
        made.append(
            Prediction(
                input_text=f"x{i}",
                canonical_smiles=f"C{'C' * i}N",
                model_name=template.model_name,
                model_hash=template.model_hash,
                outputs=outputs,
                domain=template.domain,
                verdict=template.verdict,
                public=True,
            )
        )
    return Prediction.objects.bulk_create(made)


def test_page_two_keeps_the_sort(client, stored):
    everything = [*stored, *_more_of_this_model(stored, 20)]
    expected = by_value(everything, 0, descending=True)
    first = client.get("/gallery/?sort=-o0&page_size=12")
    html = first.content.decode()
    assert 'href="?sort=-o0&amp;page_size=12&amp;page=2"' in html
    second = client.get("/gallery/?sort=-o0&page_size=12&page=2")
    assert 'href="?sort=-o0&amp;page_size=12&amp;page=1"' in second.content.decode()
    assert 'href="?sort=-o0&amp;page_size=12&amp;page=3"' in second.content.decode()
    third = client.get("/gallery/?sort=-o0&page_size=12&page=3")
    assert shown(first) + shown(second) + shown(third) == expected


def test_another_models_predictions_and_missing_values_sort_last(client, stored):
    template = stored[0]
    outputs = copy.deepcopy(template.outputs)
    outputs[0]["value"] = 1000.0  # another model's first output: not this model's logS
    other = Prediction.objects.create(
        input_text="other",
        canonical_smiles="CCCl",
        model_name="older",
        model_hash="0" * 64,
        outputs=outputs,
        public=True,
    )
    empty = Prediction.objects.create(
        input_text="empty",
        canonical_smiles="CCBr",
        model_name=template.model_name,
        model_hash=template.model_hash,
        outputs=[],
        public=True,
    )
    for sort, descending in (("o0", False), ("-o0", True)):
        ids = shown(client.get(f"/gallery/?sort={sort}"))
        assert ids[: len(stored)] == by_value(stored, 0, descending=descending)
        assert set(ids[len(stored) :]) == {other.public_id, empty.public_id}
