"""End to end in Chromium: predict, errors, the structure editor, gallery, random, downloads, admin.

Each test uses `guard` (no console errors, no request leaving the live server), and the main
pages are checked with axe-core and photographed at desktop and phone widths.
"""

from __future__ import annotations

import csv
import re
import time
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect

from .conftest import PageGuard

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

EXAMPLES = Path(settings.BASE_DIR) / "predictions" / "data" / "example_drugs.csv"
APPLET = "document.querySelector('[data-editor-ready]').jsmeApplet"
IDLE = "[data-editor-ready]:not([data-editor-busy])"  # the editor is not reading the field
DETAIL_URL = re.compile(r"/predictions/[^/]+/$")


def _predict(smiles: str, title: str = "", featured: bool = False):
    from predictions import services

    return services.prediction_get_or_create(text=smiles, title=title, featured=featured).prediction


def _examples(count: int) -> list:
    with EXAMPLES.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))[:count]
    return [_predict(row["smiles"], title=row["name"]) for row in rows]


def _expect_images_loaded(page, selector: str, count: int) -> None:
    images = page.locator(selector)
    expect(images).to_have_count(count)
    for index in range(count):
        image = images.nth(index)
        image.scroll_into_view_if_needed()
        # Polled from here: wait_for_function never re-checks in a page with JavaScript
        # disabled, and pictures drawn on their first request take a moment.
        deadline = time.monotonic() + 30
        while not image.evaluate("img => img.complete && img.naturalWidth > 0"):
            assert time.monotonic() < deadline, f"{selector} #{index} did not load"
            page.wait_for_timeout(100)


def _smiles_field(page):
    return page.get_by_role("textbox", name="SMILES", exact=True)


def _open_editor(page, button_name: str) -> None:
    page.get_by_role("button", name=button_name).click()
    page.wait_for_selector(IDLE, timeout=30_000)


def _draw(page, smiles: str) -> None:
    """Stand-in for drawing: focus leaves the field (a click in the editor), JSME gets a molecule."""
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.wait_for_selector(IDLE)
    page.evaluate(f"{APPLET}.readGenericMolecularInput({smiles!r})")


def test_predict_from_form_shows_both_images(live_server, page, guard, axe_check, screenshot):
    _examples(3)  # so the home page has cards too
    page.goto(live_server.url + "/")
    axe_check(page, "home")
    screenshot(page, "home")

    _smiles_field(page).fill("CC(=O)Oc1ccccc1C(=O)O")
    page.get_by_role("button", name="Predict").click()
    expect(page).to_have_url(DETAIL_URL)
    _expect_images_loaded(page, ".result .result-figure img", 2)
    expect(
        page.get_by_role("img", name="Structure of CC(=O)Oc1ccccc1C(=O)O", exact=True)
    ).to_be_visible()
    expect(page.get_by_role("table", name="Predicted values")).to_be_visible()
    axe_check(page, "result")
    screenshot(page, "result")


def test_invalid_smiles_shows_message_beside_the_field(
    live_server, page, guard, axe_check, screenshot
):
    page.goto(live_server.url + "/")
    field = _smiles_field(page)
    field.fill("C1CC(")
    page.get_by_role("button", name="Predict").click()
    guard.allow("status of 400")  # the form answers 400 on purpose

    error = page.locator("#id_smiles_error")  # Django's id for the field's error list
    expect(error).to_be_visible()
    expect(error).not_to_be_empty()
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_have_attribute("aria-describedby", re.compile(r"\bid_smiles_error\b"))
    expect(field).to_have_value("C1CC(")
    field_box, error_box = field.bounding_box(), error.bounding_box()
    assert 0 <= error_box["y"] - (field_box["y"] + field_box["height"]) < 40, (
        "error not beside field"
    )
    assert abs(error_box["x"] - field_box["x"]) < 10
    axe_check(page, "home-error")
    screenshot(page, "home-error")


def test_draw_a_molecule_and_predict_it(live_server, page, guard, axe_check, screenshot):
    page.goto(live_server.url + "/")
    _open_editor(page, "Draw")
    field = _smiles_field(page)

    # Drawing (through JSME's API) fills the field...
    _draw(page, "c1ccccc1O")
    expect(field).to_have_value(re.compile(r"^(Oc1ccccc1|c1ccccc1O|c1ccc\(O\)cc1)$"))
    # ...and typing a SMILES updates the drawing.
    field.fill("CCN")
    # A function, not an expression: Playwright would eval() an expression, which the CSP refuses.
    page.wait_for_function(f"() => {APPLET}.smiles() === 'CCN' || {APPLET}.smiles() === 'NCC'")
    _draw(page, "c1ccccc1O")
    expect(field).not_to_have_value("CCN")
    axe_check(page, "home-editor")
    page.set_viewport_size({"width": 1280, "height": 800})
    screenshot(page, "home-editor", widths=("desktop",))  # the applet is sized when it opens

    page.get_by_role("button", name="Predict").click()
    expect(page).to_have_url(DETAIL_URL)
    expect(page.locator("code.smiles").first).to_have_text("Oc1ccccc1")
    _expect_images_loaded(page, ".result .result-figure img", 2)


def test_edit_this_structure_round_trip(live_server, page, guard):
    phenol = _predict("Oc1ccccc1")
    page.goto(live_server.url + phenol.get_absolute_url())
    page.get_by_role("link", name="Edit this structure").click()
    page.wait_for_selector(IDLE, timeout=30_000)
    assert page.evaluate(f"{APPLET}.smiles()") in ("Oc1ccccc1", "c1ccccc1O", "c1ccc(O)cc1")

    # Change one group (add a methyl) in the editor, then predict again.
    _draw(page, "Cc1ccccc1O")
    field = _smiles_field(page)
    expect(field).not_to_have_value("Oc1ccccc1")
    page.get_by_role("button", name="Predict").click()
    expect(page).to_have_url(DETAIL_URL)
    assert page.url != live_server.url + phenol.get_absolute_url()
    expect(page.locator("code.smiles").first).to_have_text("Cc1ccccc1O")
    _expect_images_loaded(page, ".result .result-figure img", 2)


def test_gallery_paging_and_search(live_server, page, guard, axe_check, screenshot):
    _examples(14)
    page_size = settings.GALLERY_PAGE_SIZES[0]
    page.goto(live_server.url + f"/gallery/?page_size={page_size}")
    cards = page.locator(".cards > .card")
    expect(cards).to_have_count(page_size)
    expect(page.get_by_text("14 predictions")).to_be_visible()
    _expect_images_loaded(page, ".cards img", page_size)
    axe_check(page, "gallery")
    screenshot(page, "gallery")

    page.get_by_role("link", name="Next").click()
    expect(page.get_by_text("Page 2 of 2")).to_be_visible()
    expect(cards).to_have_count(14 - page_size)
    page.get_by_role("link", name="Previous").click()
    expect(cards).to_have_count(page_size)

    page.get_by_label("Search SMILES or title").fill("Acetaminophen")
    page.get_by_role("button", name="Search").click()
    expect(cards).to_have_count(1)
    expect(cards.first).to_contain_text("Acetaminophen")
    cards.first.get_by_role("link").click()
    expect(page).to_have_url(DETAIL_URL)
    expect(page.get_by_role("heading", level=1)).to_have_text("Acetaminophen")


def test_random_button(live_server, page, guard):
    page.goto(live_server.url + "/")
    page.locator(".or-random").get_by_role("link", name="Random example").click()
    expect(page.get_by_role("heading", name="No examples yet")).to_be_visible()

    titles = {p.title for p in _examples(2)}
    page.goto(live_server.url + "/")
    page.locator(".or-random").get_by_role("link", name="Random example").click()
    expect(page).to_have_url(DETAIL_URL)
    assert page.get_by_role("heading", level=1).inner_text() in titles


def test_every_download_link_returns_a_file(live_server, page, guard):
    prediction = _predict("CCO", title="Ethanol")
    page.goto(live_server.url + prediction.get_absolute_url())
    links = page.locator(".downloads a")
    names = links.all_inner_texts()
    assert len(names) == 12, names  # pictures, drug scatter, alerts, values, report card, bundle
    for index, name in enumerate(names):
        with page.expect_download() as info:
            links.nth(index).click()
        download = info.value
        assert download.suggested_filename.endswith(name)
        path = download.path()
        assert path is not None and Path(path).stat().st_size > 0, name


def test_admin_feature_action_shows_on_home_page(live_server, page, guard, admin_user):
    ethanol, caffeine = (
        _predict("CCO", title="Ethanol"),
        _predict("Cn1cnc2c1c(=O)n(C)c(=O)n2C", title="Caffeine"),
    )
    page.goto(live_server.url + "/")
    expect(page.get_by_role("heading", name="Featured")).to_have_count(0)

    page.goto(live_server.url + "/admin/login/?next=/admin/predictions/prediction/")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("password")
    page.get_by_role("button", name="Log in").click()
    page.locator(f"input[name=_selected_action][value='{caffeine.pk}']").check()
    guard.allow("favicon.ico")  # the admin's own pages have no icon link
    page.locator("select[name=action]").select_option(label="Feature selected predictions")
    page.get_by_role("button", name="Go").click()
    expect(page.get_by_text("1 prediction(s) featured.")).to_be_visible()

    page.goto(live_server.url + "/")
    featured = page.locator("section", has=page.get_by_role("heading", name="Featured"))
    expect(featured.locator(".card")).to_have_count(1)
    expect(featured.locator(".card")).to_contain_text("Caffeine")
    expect(featured).not_to_contain_text(ethanol.title)


def test_batch_upload_progress_reaches_100(
    live_server, page, guard, axe_check, screenshot, tmp_path
):
    from huey.contrib.djhuey import HUEY

    HUEY.flush()
    upload = tmp_path / "screen.csv"
    upload.write_text(
        "id,smiles\nA-1,CCO\nA-2,c1ccccc1O\nA-3,C1CC\nA-4,CC(=O)O\n", encoding="utf-8"
    )
    page.goto(live_server.url + "/batches/")
    axe_check(page, "batch-list")
    page.get_by_label("File").set_input_files(str(upload))
    page.get_by_role("button", name="Start batch").click()
    expect(page).to_have_url(re.compile(r"/batches/[^/]+/$"))
    progress = page.get_by_role("progressbar")
    expect(progress).to_have_attribute("aria-valuemax", "4")

    # The worker's job, done here: the page's htmx polling must show the progress on its own.
    # The live server shares this thread's in-memory SQLite connection, so hold the page's
    # requests while the worker writes: routed requests wait until Playwright is called again.
    page.route("**/*", lambda route: route.continue_())
    while (task := HUEY.dequeue()) is not None:
        HUEY.execute(task)
    expect(progress).to_have_attribute("aria-valuenow", "4", timeout=15_000)
    expect(page.get_by_role("status").filter(has_text="(100%)")).to_be_visible()
    expect(page.locator("table.batch-rows tbody tr")).to_have_count(4)
    HUEY.flush()
    axe_check(page, "batch")
    screenshot(page, "batch")


def test_plain_form_works_without_javascript(live_server, browser):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    guard = PageGuard(page, live_server.url)
    page.goto(live_server.url + "/")
    expect(page.get_by_role("button", name="Draw")).to_be_hidden()
    _smiles_field(page).fill("CCO")
    page.get_by_role("button", name="Predict").click()
    expect(page).to_have_url(DETAIL_URL)
    expect(page.get_by_role("button", name="Open in the structure editor")).to_be_hidden()
    _expect_images_loaded(page, ".result .result-figure img", 2)
    guard.check()
    context.close()


def test_pages_run_under_the_content_security_policy(live_server, page, guard):
    """Every page is sent with the policy and the browser enforces it: an inline script is
    refused and reported (and `guard` fails any test whose page reports a violation)."""
    response = page.goto(live_server.url + "/")
    assert "script-src 'self' blob:" in response.headers["content-security-policy"]
    guard.allow("CSP violation: script-src-elem")
    guard.allow("Executing inline script violates")
    page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.injected = true'; document.body.appendChild(s); }"
    )
    page.wait_for_timeout(200)
    assert page.evaluate("() => window.injected === undefined")
    assert any("CSP violation: script-src-elem" in p for p in guard.problems)
