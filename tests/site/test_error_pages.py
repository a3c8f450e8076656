"""Friendly error pages with DEBUG off."""

import pytest


@pytest.mark.django_db
def test_oversized_paste_gets_a_400_page_that_says_what_to_do(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = client.post("/batches/", {"text": "C" * 5000})
    assert response.status_code == 400
    assert "upload it on the" in " ".join(response.content.decode().split())


@pytest.mark.django_db
def test_500_page_is_friendly():
    from unittest import mock

    from django.test import Client

    with mock.patch("predictions.views.selectors.home_lists", side_effect=RuntimeError("boom")):
        response = Client(raise_request_exception=False).get("/")
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.content.decode()
