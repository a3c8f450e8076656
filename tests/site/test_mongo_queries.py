"""The site's queries as django-mongodb-backend compiles them, checked with no server.

No MongoDB server can run on the development and CI machines, so the live tests
(tests/site/test_mongodb.py) run only where MONGODB_URI is set. This file runs everywhere: a
subprocess configured for MongoDB, pointed at a port nothing listens on, compiles the site's
real querysets (tests/mongo_mql.py) into aggregation pipelines. Any query the backend would
refuse fails here, and the pipelines are checked for what the SQLite tests cannot see: user
text escaped in $regex, the verdict rank and JSON output sorts, offsets, index-friendly
$match stages. Nothing is executed; a query that tried would fail on the closed port.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from bson import json_util
from bson.regex import Regex

ROOT = Path(__file__).resolve().parents[2]


def _compiled(*args: str) -> dict:
    """What `python *args` prints as Extended JSON, in a subprocess configured for MongoDB."""
    env = {
        **os.environ,
        "MONGODB_URI": "mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=300",
        "DJANGO_SECRET_KEY": "compile-only",
        "DJANGO_SETTINGS_MODULE": "smiles_site.settings",
    }
    done = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json_util.loads(done.stdout)


@pytest.fixture(scope="module")
def pipelines() -> dict[str, list[dict]]:
    return _compiled("-m", "tests.mongo_mql")


# The gallery's sorts by a predicted output, compiled with the loaded model (its hash and
# outputs) as the gallery view uses them: a page of a filtered listing, and the keys a sorted
# similarity search reads.
GALLERY_SORTS = """
import sys
import django
django.setup()
from bson import json_util
from predictions import selectors
from predictions.serving import get_model
from tests.mongo_mql import pipeline
sys.stdout.write(json_util.dumps({
    "model_hash": get_model().weights_hash,
    "choices": selectors.gallery_sort_choices(),
    "page": pipeline(selectors.gallery_list(verdict="in", sort="-o3")[24:36]),
    "keys": pipeline(selectors.gallery_list(sort="o0").values_list("pk", flat=True)),
}))
"""


@pytest.fixture(scope="module")
def gallery_sorts() -> dict:
    return _compiled("-c", GALLERY_SORTS)


def _match(pipeline: list[dict]) -> dict:
    return pipeline[0]["$match"]


def _sort(pipeline: list[dict]) -> list[tuple[str, int]]:
    (stage,) = [s["$sort"] for s in pipeline if "$sort" in s]
    return list(stage.items())


def test_user_text_is_escaped_in_regex(pipelines):
    """A search for `C(=O)O.*` matches those characters, not a regular expression."""
    clauses = _match(pipelines["gallery_text"])["$and"][-1]["$or"]
    # Extended JSON reads {"$regex", "$options"} back as a bson Regex.
    regexes = {(c[f].pattern, c[f].flags) for c in clauses for f in c if isinstance(c[f], Regex)}
    assert regexes == {(r"C\(=O\)O\.\*", re.IGNORECASE)}
    assert len(clauses) == 4  # three fields, and the canonical form of the parsed SMILES


def test_equivalent_smiles_matches_the_canonical_form_exactly(pipelines):
    clauses = _match(pipelines["gallery_exact"])["$and"][-1]["$or"]
    assert {"canonical_smiles": "CC(=O)Oc1ccccc1C(=O)O"} in clauses


def test_gallery_lists_only_public_unhidden_featured_first(pipelines):
    match = _match(pipelines["gallery"])["$and"]
    assert {"hidden": False} in match and {"public": True} in match
    assert _sort(pipelines["gallery"]) == [("featured", -1), ("published_at", -1)]
    recent = _match(pipelines["home_recent"])["$and"]
    assert {"$nor": [{"source": "example"}]} in recent
    assert pipelines["home_recent"][-1] == {"$limit": 8}


def test_random_example_uses_a_stable_order_and_an_offset(pipelines):
    stages = pipelines["random_offset"]
    assert _sort(stages) == [("created_at", 1), ("_id", 1)]
    assert stages[-2:] == [{"$skip": 7}, {"$limit": 1}]


def test_verdict_sort_ranks_in_care_out_then_rest(pipelines):
    stages = pipelines["batch_sort_verdict"]
    (rank,) = [s["$addFields"]["__order1"] for s in stages if "$addFields" in s]
    branches = rank["$switch"]["branches"]
    assert [(b["case"]["$eq"][1], b["then"]["$literal"]) for b in branches] == [
        ("in", 0),
        ("care", 1),
        ("out", 2),
    ]
    assert rank["$switch"]["default"] == {"$literal": 3}
    assert _sort(stages) == [("__order1", 1), ("row_number", 1)]


def test_output_sort_reads_the_json_list_by_index(pipelines):
    stages = pipelines["batch_sort_output_desc"]
    (value,) = [s["$addFields"]["__order1"] for s in stages if "$addFields" in s]
    assert value["$getField"]["field"] == "value"
    assert value["$getField"]["input"]["$cond"]["then"] == {"$arrayElemAt": ["$outputs", 1]}
    # Bad rows ("error" < "ok") last, high values first, ties in input order.
    assert _sort(stages) == [("status", -1), ("__order1", -1), ("row_number", 1)]


def test_fingerprint_screens_are_plain_field_matches(pipelines):
    """Range and existence tests in $match (not $expr), so an index on the field can serve them."""
    similarity = _match(pipelines["similarity_screen"])["$and"]
    assert {"morgan_bits": {"$gte": 12}} in similarity
    assert "$expr" not in str(similarity)
    assert pipelines["similarity_screen"][-1] == {"$project": {"_id": 1, "morgan_fp": 1}}
    substructure = str(_match(pipelines["substructure_screen"]))
    assert "'pattern_fp': {'$ne': None}" in substructure and "$expr" not in substructure


def test_batch_rows_filter_by_batch_and_status(pipelines):
    match = _match(pipelines["batch_rows_errors"])["$and"]
    assert {"status": "error"} in match
    assert _sort(pipelines["batch_rows_errors"]) == [("row_number", 1)]
    assert _match(pipelines["batch_resume"]) == {"status": {"$in": ["queued", "running"]}}


def _output_of_this_model(expression: dict, model_hash: str, index: int) -> None:
    """`expression` is the stored output `index`'s value for `model_hash`'s rows, else null."""
    (branch,) = expression["$switch"]["branches"]
    assert branch["case"] == {"$eq": ["$model_hash", model_hash]}
    value = branch["then"]["$getField"]
    assert value["field"] == "value"
    assert value["input"]["$cond"]["then"] == {"$arrayElemAt": ["$outputs", index]}
    assert expression["$switch"]["default"] is None


def test_gallery_sorts_by_an_output_of_the_loaded_model_other_rows_last(gallery_sorts):
    stages, model_hash = gallery_sorts["page"], gallery_sorts["model_hash"]
    assert [next(iter(stage)) for stage in stages] == [
        "$match",
        "$addFields",
        "$sort",
        "$skip",
        "$limit",
    ]
    assert _match(stages) == {"$and": [{"hidden": False}, {"public": True}, {"verdict": "in"}]}
    fields = stages[1]["$addFields"]
    _output_of_this_model(fields["__order1"], model_hash, 3)
    # Nulls last: 1 where the value is missing or null (another model, no such output), else 0.
    (missing,) = fields["__order2"]["$switch"]["branches"]
    assert missing["then"] == {"$literal": 1} and fields["__order2"]["$switch"]["default"] == {
        "$literal": 0
    }
    assert {"$eq": [{"$type": fields["__order1"]}, "missing"]} in missing["case"]["$or"]
    assert _sort(stages) == [("__order2", 1), ("__order1", -1), ("published_at", -1)]
    assert stages[-2:] == [{"$skip": 24}, {"$limit": 12}]


def test_sorted_similarity_search_reads_keys_in_the_same_order(gallery_sorts):
    stages, model_hash = gallery_sorts["keys"], gallery_sorts["model_hash"]
    _output_of_this_model(stages[1]["$project"]["__order1"], model_hash, 0)
    assert _sort(stages) == [("__order2", 1), ("__order1", 1), ("published_at", -1)]
    choices = dict(gallery_sorts["choices"])
    assert choices[""] == "Newest first" and len(choices) == 1 + 2 * 7
    assert choices["-o0"].endswith("high to low (favourable first)")


# A batch's profile stores (predictions.services.profiles_store, batches.signals.copy_profiles):
# one bulk_update of the pending documents, compiled with the update itself captured (nothing
# runs; transaction.atomic, which bulk_update opens, would need a server, and does nothing on
# MongoDB anyway).
PROFILE_STORES = """
import contextlib
import sys
import django
django.setup()
import django.db.models.query as query
from bson import ObjectId, json_util
from django.utils import timezone
from django_mongodb_backend import compiler
from predictions.models import Prediction
seen = []
compiler.SQLUpdateCompiler.update = lambda self, criteria, pipeline: seen.append(
    {"collection": self.collection_name, "criteria": criteria, "pipeline": pipeline}
) or 1
query.transaction.atomic = lambda **kwargs: contextlib.nullcontext()
now = timezone.now()
Prediction.objects.filter(profile_pending=True).bulk_update(
    [
        Prediction(pk=ObjectId("0" * 23 + "1"), profile={"qed": 0.5, "alerts": []},
                   profile_pending=False, updated_at=now),
        Prediction(pk=ObjectId("0" * 23 + "2"), profile={"qed": 0.7, "alerts": [{"atoms": [1]}]},
                   profile_pending=False, updated_at=now),
    ],
    ["profile", "profile_pending", "updated_at"],
)
sys.stdout.write(json_util.dumps(seen))
"""


def test_profile_stores_are_one_conditional_update_of_the_pending_documents():
    (update,) = _compiled("-c", PROFILE_STORES)
    assert update["collection"] == "predictions_prediction"
    assert {"profile_pending": True} in update["criteria"]["$and"]  # only those still pending
    (stage,) = update["pipeline"]
    branches = stage["$set"]["profile"]["$switch"]["branches"]
    assert [b["then"]["$literal"]["qed"] for b in branches] == [0.5, 0.7]  # JSON kept literal
    assert all(b["case"]["$eq"][0] == "$_id" for b in branches)
