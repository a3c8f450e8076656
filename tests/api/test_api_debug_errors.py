"""Errors under /api/ are JSON whatever DEBUG says (./scripts/run.sh runs with DEBUG on)."""

import pytest
from django.test import override_settings

pytestmark = pytest.mark.django_db


def _assert_json_error(response, status: int, code: str) -> None:
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json"), response.content[:200]
    assert response.json()["error"]["code"] == code


@override_settings(DEBUG=True)
def test_unknown_api_url_answers_json_under_debug(client):
    _assert_json_error(client.get("/api/v1/nothing/here"), 404, "not_found")
    _assert_json_error(client.get("/api/v2/"), 404, "not_found")
    _assert_json_error(client.get("/api/v1/predictions/nosuchid"), 404, "not_found")
    # The site's own pages keep Django's debug page.
    page = client.get("/no/such/page/")
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")


@override_settings(DEBUG=True)
def test_a_crash_under_api_answers_json_under_debug(client, monkeypatch):
    from api import views

    def boom(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(views, "get_model", boom)
    client.raise_request_exception = False
    _assert_json_error(client.get("/api/v1/model"), 500, "server_error")


def test_unknown_api_url_answers_json_without_debug(client):
    _assert_json_error(client.get("/api/v1/nothing/here"), 404, "not_found")
