"""The API's Swagger UI page works from the site's own assets under the site's CSP."""

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_api_docs_render_every_operation_without_a_cdn(live_server, page, guard):
    # `guard` fails the test on any console error (CSP violations included) or off-site request.
    page.goto(live_server.url + "/api/v1/docs/")
    expect(page.locator('.opblock-summary-path[data-path="/api/v1/predict"]')).to_be_visible()
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert {"/api/v1/predict", "/api/v1/model", "/api/v1/batches"} <= {p.strip() for p in paths}
