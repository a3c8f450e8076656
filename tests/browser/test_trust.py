"""In Chromium: the result page's trust panel (badge, reasons, nearest measured molecules),
its approved-drug context (percentiles, scatter, the phone plot), the model page, and a refusal
for unreadable atoms; axe-core clean at both widths."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .test_site import DETAIL_URL, _expect_images_loaded, _smiles_field

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_result_page_says_how_far_to_trust_it(live_server, page, guard, axe_check, screenshot):
    page.goto(live_server.url + "/")
    _smiles_field(page).fill("CC(C)Cc1ccc(C(C)C(=O)O)cc1")  # ibuprofen: measured, all in domain
    page.get_by_role("button", name="Predict").click()
    expect(page).to_have_url(DETAIL_URL)
    panel = page.get_by_role("region", name="How far to trust this prediction")
    expect(panel.locator(".verdict-in").first).to_have_text("✓ in domain")
    _expect_images_loaded(page, ".neighbour img", 5)
    expect(panel.get_by_text("Similarity 1.00 (Tanimoto)").first).to_be_visible()
    axe_check(page, "result-trust")
    screenshot(page, "result-trust")

    panel.get_by_role("link", name="About the model").click()
    expect(page.get_by_role("heading", name="Applicability domain: how")).to_be_visible()
    expect(page.get_by_role("heading", name="Model card")).to_be_visible()
    axe_check(page, "model")
    screenshot(page, "model", widths=("desktop",))


def test_water_is_flagged_and_iron_refused(live_server, page, guard, axe_check):
    page.goto(live_server.url + "/")
    _smiles_field(page).fill("O")
    page.get_by_role("button", name="Predict").click()
    expect(page).to_have_url(DETAIL_URL)
    expect(page.locator(".trust .verdict-out")).to_have_text("✕ out of domain")
    expect(page.get_by_text("an inorganic species (no carbon)")).to_be_visible()
    axe_check(page, "result-out-of-domain")

    page.goto(live_server.url + "/")
    _smiles_field(page).fill("[Fe]")
    page.get_by_role("button", name="Predict").click()
    guard.allow("status of 400")  # the form answers 400 on purpose
    expect(page.locator("#id_smiles_error")).to_contain_text("The model cannot read [Fe]")
    axe_check(page, "home-unreadable-atoms")


def test_result_page_shows_the_rdkit_profile_alerts_and_solubility_units(
    live_server, page, guard, axe_check, screenshot
):
    page.goto(live_server.url + "/")
    _smiles_field(page).fill("O=C1NC(=S)SC1=Cc1ccccc1")  # a PAINS (ene_rhod_A) compound
    page.get_by_role("button", name="Predict").click()
    expect(page).to_have_url(DETAIL_URL)
    panel = page.get_by_role("region", name="RDKit profile")
    expect(
        panel.get_by_role("table", name="RDKit profile: computed (RDKit), exact")
    ).to_be_visible()
    expect(panel.get_by_role("rowheader", name="ene_rhod_A(235)")).to_be_visible()
    _expect_images_loaded(page, ".profile img", 1)  # the alert atoms, highlighted
    solubility = page.get_by_role("region", name="Solubility in other units")
    expect(solubility).to_contain_text("µM")
    expect(solubility).to_contain_text("µg/mL")
    solubility.get_by_text("How the bands are defined").click()
    expect(solubility.get_by_role("table", name="logS classes")).to_be_visible()
    axe_check(page, "result-profile")
    screenshot(page, "result-profile")


def test_result_page_places_the_molecule_among_approved_drugs(
    live_server, page, guard, axe_check, screenshot
):
    from predictions.serving import reference

    page.goto(live_server.url + "/")
    _smiles_field(page).fill("CC(=O)Oc1ccccc1C(=O)O")
    page.get_by_role("button", name="Predict").click()
    expect(page).to_have_url(DETAIL_URL)
    panel = page.get_by_role("region", name="Among approved drugs")
    drugs = reference.get_reference()
    expect(panel).to_contain_text(f"among {len(drugs):,} approved small-molecule drugs")
    table = panel.get_by_role("table", name="Percentiles among approved drugs")
    expect(table.locator("tbody tr")).to_have_count(7)  # one row per output of v3
    expect(table).to_contain_text("percentile")
    _expect_images_loaded(page, ".drug-scatter img", 1)
    plot = page.locator(".result picture img")
    _expect_images_loaded(page, ".result picture img", 1)  # drawn on its first request
    assert plot.evaluate("img => img.currentSrc").endswith("/plot.svg")
    axe_check(page, "result-drugs")  # desktop and phone widths
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    _expect_images_loaded(page, ".result picture img", 1)
    assert plot.evaluate("img => img.currentSrc").endswith("/plot-phone.svg")
    screenshot(page, "result-drugs")
