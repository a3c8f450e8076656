"""What a newcomer tripped on (issue 22): every page renders clean HTML (no template syntax
leaks), the number after ± is explained, headings stay short, numbers are formatted in one
place, a gallery search with no hits says so, salts say what their values are for, and wide
tables scroll inside a box that says so."""

import re

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import TestCase
from django.utils.html import escape

from batches import owners
from batches.models import Batch
from chemreport import salts, units

pytestmark = pytest.mark.django_db

PACLITAXEL = (
    "CC1=C2[C@@]([C@]([C@H]([C@@H]3[C@]4([C@H](OC4)C[C@@H]([C@]3(C(=O)[C@@H]2OC(=O)C)C)O)OC(=O)C)"
    "OC(=O)c5ccccc5)(C[C@@H]1OC(=O)[C@H](O)[C@@H](NC(=O)c6ccccc6)c7ccccc7)O)(C)C"
)
SODIUM_BENZOATE = "[Na+].[O-]C(=O)c1ccccc1"
LEAKS = ("{#", "#}", "{{", "{%", "%}", "}}")


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def _assert_clean(html: str, where: str, leaks=LEAKS) -> None:
    for leak in leaks:
        assert leak not in html, (
            f"{leak!r} reaches the HTML of {where}: "
            + html[max(0, html.find(leak) - 120) : html.find(leak) + 120]
        )


def _batch(client, queue, smiles: list[str]) -> Batch:
    session = client.session
    session[owners.SESSION_TOKEN] = "pages-render-test"
    session.save()
    with TestCase.captureOnCommitCallbacks(execute=True):
        created = client.post(
            "/api/v1/batches", {"smiles": smiles}, content_type="application/json"
        )
    assert created.status_code == 201, created.content
    queue()
    return Batch.objects.get(public_id=created.json()["id"])


def test_no_template_syntax_reaches_any_page(client, queue, make_prediction):
    aspirin = make_prediction("CC(=O)Oc1ccccc1C(=O)O", title="Aspirin", featured=True)
    taxol = make_prediction(PACLITAXEL)
    batch = _batch(client, queue, ["CCO", "C1CC", SODIUM_BENZOATE, "c1ccccc1O"])
    pages = {
        "home": "/",
        "result": aspirin.get_absolute_url(),
        "result without a name": taxol.get_absolute_url(),
        "gallery": "/gallery/",
        "search results": "/gallery/?q=CCO",
        "search without hits": "/gallery/?q=nothing-like-this",
        "substructure search": "/gallery/?q=c1ccccc1&mode=substructure",
        "batch page": batch.get_absolute_url(),
        "batch rows": f"/batches/{batch.public_id}/rows/",
        "batch progress": f"/batches/{batch.public_id}/progress/",
        "batch list": "/batches/",
        "model page": "/model/",
        "404": "/no/such/page/",
    }
    for where, url in pages.items():
        response = client.get(url)
        assert response.status_code in (200, 404), (where, response.status_code)
        _assert_clean(response.content.decode(), where)
    admin = User.objects.create_superuser("curator", "c@example.org", "x" * 16)
    client.force_login(admin)
    for url in (
        "/admin/",
        "/admin/predictions/prediction/",
        f"/admin/predictions/prediction/{aspirin.pk}/change/",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        # A change form shows stored JSON (its "}}" is data): only comment and tag syntax.
        _assert_clean(response.content.decode(), url, ("{#", "#}", "{%", "%}", "{{ "))


def test_the_number_after_plus_minus_is_explained(client, queue, make_prediction, predictor):
    if not predictor.has_uncertainty:
        pytest.skip("the model gives no uncertainty")
    html = client.get(make_prediction("c1ccccc1O").get_absolute_url()).content.decode()
    assert '<span class="nowrap">± σ</span>' in html  # the column header
    assert 'aria-describedby="sigma-help"' in html and 'id="sigma-help"' in html
    help_text = units.UNCERTAINTY_HELP.replace("'", "&#x27;")
    assert help_text in html and "standard deviation" in help_text and "1.645" in help_text
    batch = _batch(client, queue, ["CCO"])
    rows = client.get(f"/batches/{batch.public_id}/rows/").content.decode()
    assert 'aria-describedby="rows-sigma-help"' in rows and help_text in rows
    assert '<td class="value">' in rows  # value ± σ never wraps (CSS: td.value nowrap)


def test_headings_stay_short_and_the_full_smiles_is_below(client, make_prediction):
    taxol = make_prediction(PACLITAXEL)
    html = client.get(taxol.get_absolute_url()).content.decode()
    heading = re.search(r'<h1 class="result-title">(.*?)</h1>', html).group(1)
    assert heading == taxol.formula and len(heading) <= 40
    assert f'<p class="result-smiles"><code class="smiles">{taxol.canonical_smiles}</code>' in html
    title = re.search(r"<title>(.*?)</title>", html).group(1)
    assert len(title) < 80
    short = make_prediction("CCO")
    html = client.get(short.get_absolute_url()).content.decode()
    assert '<h1 class="result-title">CCO</h1>' in html and "result-smiles" not in html


def test_training_ranges_print_without_float_noise(client, predictor):
    html = client.get("/model/").content.decode()
    assert not re.search(r"\d\.\d{6,}", html), re.search(r"\d\.\d{6,}", html)
    for spec in predictor.outputs:
        if spec.range:
            assert units.format_value(spec.range["min"], spec.label) in html
    body = client.get("/api/v1/model").json()
    for output in body["outputs"]:
        for value in (output["training_range"] or {}).values():
            if isinstance(value, float):
                assert len(repr(value)) <= 14, value
    assert units.clean(0.09299999999999956) == 0.093


def test_model_page_shows_how_salts_measured_against_their_parent(client, predictor):
    html = client.get("/model/").content.decode()
    assert '<h2 id="salts-heading">Salts and mixtures</h2>' in html
    alkali = salts.gaps()["kinds"]["alkali"]["bins"][0]
    cell = f"{alkali['median']:+.2f}, {round(100 * alkali['salt_more_soluble'])} % above"
    assert f"<td>{cell} ({alkali['n']})</td>" in html
    for words in ("parent below logS -3", "parent at logS -1 or above"):
        assert f'<th scope="col">{words}</th>' in html
    # measured with the model served: no warning that it was another
    assert "not the one served now" not in html
    assert salts.page_table(predictor.version)["this_model"] is False  # the hash is part of it
    assert salts.page_table("0.0.1 (000000000000)")["this_model"] is False


def test_model_page_does_not_build_the_members(client, predictor, monkeypatch):
    """The page counts the members from their configs: building them as transformers models
    (`network.models`) would load torch into the web worker (about 130 MB, seconds)."""

    def refuse(self):
        raise AssertionError("the model page built the members as transformers models")

    monkeypatch.setattr(type(predictor.network), "models", property(refuse))
    response = client.get("/model/")
    assert response.status_code == 200
    assert f"an ensemble of {len(predictor.network.configs)} members" in response.content.decode()


def test_gallery_search_without_hits_says_so(client, make_prediction):
    make_prediction("CCO")
    html = client.get("/gallery/", {"q": "nothing-like-this"}).content.decode()
    assert "Nothing here yet" not in html
    assert "No predictions match “nothing-like-this”" in html
    assert "Nothing here yet" in client.get("/gallery/", {"featured": "on"}).content.decode() or (
        "No predictions match" in client.get("/gallery/", {"featured": "on"}).content.decode()
    )


def units_logs(outputs: list[dict]) -> float:
    [logs] = [o["value"] for o in outputs if units.is_logs(o)]
    return logs


def test_salt_says_its_values_are_for_the_parent(client, queue, make_prediction):
    salt = make_prediction(SODIUM_BENZOATE)
    html = client.get(salt.get_absolute_url()).content.decode()
    assert 'class="note parent-note"' in html and "parent compound" in html
    # which way the salt's measured solubility lies, for salts whose parent is as soluble as
    # benzoic acid is predicted (the stored logS picks the bin): on every surface
    benzoate = salts.solubility_sentence("alkali", units_logs(salt.outputs))
    assert "whose parent this model predicts between logS -3 and -1" in benzoate
    assert "measured more soluble than the parent's predicted logS" in benzoate
    assert escape(benzoate) in html
    for name in ("values.csv", "values.json"):
        body = client.get(f"{salt.get_absolute_url()}{name}").content.decode()
        assert "parent compound" in body and "[Na+]" in body and benzoate in body, name
    api = client.get(f"/api/v1/predictions/{salt.public_id}").json()
    assert benzoate in api["parent_note"]
    values = client.get(f"{salt.get_absolute_url()}values.json").json()
    assert values["salt"] == api["salt"] and api["salt"]["kind"] == "alkali"
    batch = _batch(client, queue, ["CCO", SODIUM_BENZOATE])
    for name in ("results.csv", "results.sdf"):
        response = client.get(f"/api/v1/batches/{batch.public_id}/{name}")
        body = b"".join(response.streaming_content).decode()
        assert body.count("Values are for the parent compound") == 1, name
        assert body.count(benzoate) == 1, name
    rows = client.get(f"/batches/{batch.public_id}/rows/").content.decode()
    assert rows.count('class="parent-note"') == 1 and rows.count(escape(benzoate)) == 1


def test_salt_given_after_its_parent_still_says_so(client, make_prediction):
    """The parent was stored first: the salt reuses it, and the page's message says what the
    values are for."""
    acid = make_prediction("OC(=O)c1ccccc1")
    response = client.post("/", {"smiles": SODIUM_BENZOATE}, follow=True)
    assert response.redirect_chain[-1][0] == acid.get_absolute_url()
    html = response.content.decode()
    assert "removed [Na+]" in html and "Values are for the parent compound" in html


def test_wide_tables_scroll_inside_a_box_that_says_so(client, queue, make_prediction):
    batch = _batch(client, queue, ["CCO", "C1CC"])
    html = client.get(batch.get_absolute_url()).content.decode()
    for label in ("Results table", "Bad rows table"):
        assert (
            f'<div class="table-scroll" data-scroll-hint tabindex="0" role="region" '
            f'aria-label="{label}">' in html
        )
    assert "scroll sideways" in html and "js/tables.js" in html
    css = open("static/css/site.css", encoding="utf-8").read()
    assert ".table-scroll { max-width: 100%; overflow-x: auto;" in css
    assert ".table-scroll[data-overflowing] > .scroll-hint { display: block; }" in css
    assert re.search(r"td\.value[^{]*\{ white-space: nowrap; \}", css)
