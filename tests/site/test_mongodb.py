"""Runs only against a live MongoDB (set MONGODB_URI): ObjectId ids end to end."""

import pytest
from bson import ObjectId
from django.conf import settings

from predictions.models import Prediction

pytestmark = [pytest.mark.mongodb, pytest.mark.django_db]


def test_predictions_use_objectid_keys_and_string_urls(client, make_prediction):
    assert settings.DATABASES["default"]["ENGINE"] == "django_mongodb_backend"
    prediction = make_prediction("CCO")
    assert isinstance(prediction.pk, ObjectId)
    response = client.get(f"/predictions/{prediction.public_id}/")
    assert response.status_code == 200
    assert client.get(f"/predictions/{prediction.public_id}/values.json").status_code == 200


def test_unique_constraint_and_random_offset_work_on_mongo(client, make_prediction):
    first = make_prediction("CCO")
    again = make_prediction("OCC")
    assert first.pk == again.pk and Prediction.objects.count() == 1
    assert client.get("/random/").status_code == 302
