"""Shared fixtures: the real shipped checkpoint, loaded once per test session."""

import os

import pytest
from django.conf import settings


def pytest_collection_modifyitems(config, items):
    skip_mongo = pytest.mark.skip(reason="needs a live MongoDB: set MONGODB_URI")
    for item in items:
        if "mongodb" in item.keywords and not settings.USING_MONGODB:
            item.add_marker(skip_mongo)


@pytest.fixture(scope="session")
def predictor():
    """The site's real default model (checkpoints/default), loaded once."""
    from predictions.serving import get_model

    return get_model()


@pytest.fixture(autouse=True)
def _no_hub_access(monkeypatch):
    # Nothing may be downloaded at run time: make any attempt fail loudly.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture
def make_prediction(db, predictor):
    """Store a real prediction through the service, as the web form would."""
    from predictions.services import prediction_get_or_create

    def make(smiles: str = "CC(=O)Oc1ccccc1C(=O)O", **fields):
        return prediction_get_or_create(text=smiles, **fields).prediction

    return make


@pytest.fixture
def store_predictions(db, predictor):
    """Store real predictions, predicted in one call and without pictures, as batches do."""
    from predictions import services

    def store(smiles: list[str], *, public: bool = True) -> list:
        parsed = [services.parse_for_model(s, predictor) for s in smiles]
        results = predictor.run(parsed)
        stored = []
        for p, r in zip(parsed, results, strict=True):
            prediction = services.build_prediction(
                parsed=p, model=predictor, result=r, draw=False, public=public
            )
            prediction.save()
            stored.append(prediction)
        return stored

    return store


@pytest.fixture
def queue():
    """The real (SQLite or Redis) Huey queue, emptied; `drain()` runs what is queued, as the
    consumer would, and returns how many tasks ran."""
    from huey.contrib.djhuey import HUEY

    HUEY.flush()

    def drain() -> int:
        count = 0
        while (task := HUEY.dequeue()) is not None:
            HUEY.execute(task)
            count += 1
        return count

    yield drain
    HUEY.flush()


@pytest.fixture
def redis_url(tmp_path):
    """A fresh real redis-server (tests.redis_support) for one test; its URL."""
    from tests.redis_support import running_redis

    with running_redis(tmp_path) as url:
        yield url
