"""Schemathesis fuzzes the live API from its own generated OpenAPI schema.

The schema is fetched from the running test server (pytest-django's live_server: a real
HTTP server in a thread, a real SQLite database, the real model). Every operation gets
bounded positive and negative examples; each response must not be a 5xx, must use a
documented status code and content type, and must match the documented schema.
A summary (operations, examples, statuses) is written to artifacts/schemathesis.json.
"""

import json
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import schemathesis
from huey.contrib.djhuey import HUEY
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

EXAMPLES_PER_OPERATION = 30
SUMMARY = Path(__file__).resolve().parents[2] / "artifacts" / "schemathesis.json"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

calls: dict[str, Counter] = defaultdict(Counter)


def _fuzz(operation, mode: GenerationMode) -> None:
    """Bounded Hypothesis run of one operation in one generation mode."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def run(case) -> None:
        response = case.call(timeout=60)
        calls[operation.label][str(response.status_code)] += 1
        case.validate_response(response, checks=CHECKS)

    run()


def test_api_matches_its_schema(live_server, predictor, settings):
    settings.API_ANON_RATE = "100000/min"  # fuzzing is not abuse; throttling has its own test
    HUEY.flush()
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/v1/schema/")
    operations = [result.ok() for result in schema.get_all_operations()]
    failures, unsatisfiable = [], []
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _fuzz(operation, mode)
            except Unsatisfiable:  # nothing to make invalid (no body, no constrained parameter)
                unsatisfiable.append(f"{operation.label} [{mode}]")
            except Exception as error:  # collect them all, then fail once with every one
                failures.append(f"{operation.label} [{mode}]: {error}")
    HUEY.flush()
    _write_summary(operations, failures, unsatisfiable)
    assert len(operations) >= 10
    assert not failures, "\n\n".join(failures)


def _write_summary(operations, failures, unsatisfiable) -> None:
    summary = {
        "operations": len(operations),
        "examples": sum(sum(c.values()) for c in calls.values()),
        "failures": len(failures),
        "no_negative_cases": unsatisfiable,
        "by_operation": {label: dict(counter) for label, counter in sorted(calls.items())},
    }
    SUMMARY.parent.mkdir(parents=True, exist_ok=True)
    SUMMARY.write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
