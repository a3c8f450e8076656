"""In Chromium at 1,280 and 390 px: wide tables never widen the page; they scroll inside a
focusable box that says so when they do not fit, and a value with its ± σ stays on one line."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .conftest import VIEWPORTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LAYOUT = """(selector) => {
  const box = document.querySelector(selector);
  const table = box.querySelector('table');
  const values = [...table.querySelectorAll('td.value')].map(td => {
    const range = document.createRange();
    range.selectNodeContents(td.querySelector('.nowrap') || td.firstChild);
    const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
    return {text: td.textContent.trim(), lines: lines.size};
  });
  const hint = box.querySelector('.scroll-hint');
  return {
    pageWidth: document.documentElement.scrollWidth,
    windowWidth: window.innerWidth,
    overflowing: box.scrollWidth > box.clientWidth + 1,
    marked: box.hasAttribute('data-overflowing'),
    hintShown: !!hint && hint.offsetParent !== null,
    values,
  };
}"""


def _check(page, selector: str, width: str) -> dict:
    found = page.evaluate(LAYOUT, selector)
    assert found["pageWidth"] <= found["windowWidth"], (width, selector, found)
    assert found["marked"] == found["overflowing"] == found["hintShown"], (width, found)
    for value in found["values"]:
        assert value["lines"] == 1, (width, value)
    return found


def test_tables_fit_or_scroll_visibly(live_server, page, guard, axe_check, screenshot, tmp_path):
    from huey.contrib.djhuey import HUEY

    HUEY.flush()
    upload = tmp_path / "wide.csv"
    upload.write_text(
        "id,smiles,supplier,batch note\n"
        "CPD-000001,CC(=O)Oc1ccccc1C(=O)O,Acme,first\n"
        "CPD-000002,CN1CCC[C@H]1c1cccnc1,Acme,second\n"
        "CPD-000003,C1CC,Acme,broken\n"
        "CPD-000004,CC(C)c1c(C(=O)Nc2ccccc2)c(-c2ccccc2)c(-c2ccc(F)cc2)n1CC[C@@H](O)C[C@@H](O)CC(=O)O,Acme,atorvastatin\n",
        encoding="utf-8",
    )
    page.goto(live_server.url + "/batches/")
    page.get_by_label("File").set_input_files(str(upload))
    page.get_by_role("button", name="Start batch").click()
    expect(page).to_have_url(re.compile(r"/batches/[^/]+/$"))
    page.route("**/*", lambda route: route.continue_())  # hold requests while the worker writes
    while (task := HUEY.dequeue()) is not None:
        HUEY.execute(task)
    expect(page.locator("table.batch-rows tbody tr")).to_have_count(4, timeout=15_000)
    HUEY.flush()
    page.reload()
    results = page.get_by_role("region", name="Results table")
    expect(results).to_be_visible()
    for label, size in VIEWPORTS.items():
        page.set_viewport_size(size)
        page.wait_for_timeout(200)
        found = _check(page, ".table-scroll:has(table.batch-rows)", label)
        assert found["values"], found
        if label == "phone":
            assert found["overflowing"] and found["hintShown"]
            expect(results.get_by_text("scroll sideways")).to_be_visible()
    axe_check(page, "batch-tables")
    screenshot(page, "batch-tables")

    page.get_by_role("link", name=re.compile("Structure of CC\\(=O\\)Oc1ccccc1")).first.click()
    expect(page.get_by_role("region", name="Predicted values table")).to_be_visible()
    for label, size in VIEWPORTS.items():
        page.set_viewport_size(size)
        page.wait_for_timeout(200)
        _check(page, ".table-scroll:has(table.values)", label)
    expect(page.locator("#sigma-help")).to_contain_text("one standard deviation")
