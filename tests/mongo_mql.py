"""Compile the site's own querysets with django-mongodb-backend, without a server.

`python -m tests.mongo_mql` (with MONGODB_URI set, reachable or not) prints, as Extended
JSON, the aggregation pipeline each of the site's read queries becomes on MongoDB. Nothing is
executed: the compiler only builds the pipeline, so a query the backend cannot express
(NotSupportedError) or expresses wrongly shows up on machines with no MongoDB server. Used by
tests/site/test_mongo_queries.py; the live tests are in tests/site/test_mongodb.py.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smiles_site.settings")


def pipeline(queryset) -> list[dict]:
    """The pipeline `queryset` would run: what SQLCompiler.execute_sql builds before its cursor."""
    compiler = queryset.query.get_compiler(using=queryset.db)
    compiler.pre_sql_setup()
    query = queryset.query
    projected = query.annotations or not query.default_cols or query.distinct
    return compiler.build_query(compiler.columns if projected else None).get_pipeline()


def site_queries() -> dict[str, list[dict]]:
    from bson import ObjectId

    from batches import selectors as batch_selectors
    from batches.models import Batch, BatchRow
    from predictions import search, selectors
    from predictions.models import Prediction, Source

    batch = Batch(pk=ObjectId("0" * 24))
    rows = batch_selectors.batch_rows(batch=batch)
    listed = Prediction.objects.listed().without_blobs()
    return {
        "gallery": pipeline(selectors.gallery_list()),
        "gallery_text": pipeline(selectors.gallery_list(query="C(=O)O.*", verdict="in")),
        "gallery_exact": pipeline(selectors.gallery_list(query="OC(=O)c1ccccc1OC(C)=O")),
        "home_recent": pipeline(
            listed.filter(featured=False)
            .exclude(source=Source.EXAMPLE)
            .order_by("-published_at")[:8]
        ),
        "random_offset": pipeline(listed.order_by("created_at", "pk")[7:8]),
        "batch_rows_errors": pipeline(batch_selectors.batch_rows(batch=batch, errors_only=True)),
        "batch_sort_verdict": pipeline(batch_selectors._ordered(rows, "verdict")),
        "batch_sort_output_desc": pipeline(batch_selectors._ordered(rows, "-o1")),
        "batch_resume": pipeline(Batch.objects.active().values_list("pk", flat=True)),
        "similarity_screen": pipeline(
            rows.order_by()
            .filter(morgan_bits__gte=12, morgan_bits__lte=40)
            .values_list("pk", "morgan_fp")
        ),
        "substructure_screen": pipeline(
            listed.filter(pattern_fp__isnull=False).values_list(
                "pk", "pattern_fp", "canonical_smiles"
            )
        ),
        "text_or_exact_rows": pipeline(
            BatchRow.objects.filter(
                search.text_or_exact("aspirin", batch_selectors.BATCH_TEXT_FIELDS)
            )
        ),
    }


def main() -> None:
    import django
    from bson import json_util

    django.setup()
    sys.stdout.write(json_util.dumps(site_queries()))


if __name__ == "__main__":
    main()
