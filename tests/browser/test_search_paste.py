"""In Chromium: a substructure search with highlighted matches, and a list pasted on the home
page (Enter submits) that becomes a batch whose last update brings the bad rows."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .test_site import _predict, _smiles_field

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_substructure_search_highlights_the_matches(live_server, page, guard, axe_check):
    for smiles in ("CC(=O)Oc1ccccc1C(=O)O", "OC(=O)c1ccccc1O", "CCO", "c1ccccc1"):
        _predict(smiles)
    page.goto(live_server.url + "/gallery/")
    page.get_by_label("Search SMILES or title").fill("c1ccccc1C(=O)O")
    page.get_by_label("Search for").select_option("substructure")
    page.get_by_role("button", name="Search").click()
    cards = page.locator(".cards > .card")
    expect(cards).to_have_count(2)
    expect(page.locator(".card .search-match svg")).to_have_count(2)
    expect(page.get_by_role("img", name=re.compile("matching atoms highlighted"))).to_have_count(2)
    axe_check(page, "gallery-substructure")


def test_pasted_list_starts_a_batch_and_its_end_shows_the_bad_rows(
    live_server, page, guard, axe_check
):
    from huey.contrib.djhuey import HUEY

    HUEY.flush()
    page.goto(live_server.url + "/")
    field = _smiles_field(page)
    field.fill("CCO ethanol\nc1ccccc1O,phenol\nC1CC( broken")
    field.press("Enter")  # submits, as the one-line field did
    expect(page).to_have_url(re.compile(r"/batches/[^/]+/$"))
    expect(page.get_by_role("progressbar")).to_have_attribute("aria-valuemax", "3")
    expect(page.locator("table.bad-rows")).to_have_count(0)

    # The worker's job, done here (see test_site.test_batch_upload_progress_reaches_100).
    page.route("**/*", lambda route: route.continue_())
    while (task := HUEY.dequeue()) is not None:
        HUEY.execute(task)
    expect(page.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "3", timeout=15_000)
    # No reload: the last progress update swapped in the bad rows and the summary.
    expect(page.locator("table.bad-rows")).to_contain_text("C1CC(")
    expect(page.get_by_role("heading", name="Summary")).to_be_visible()
    HUEY.flush()
    axe_check(page, "batch-pasted")
