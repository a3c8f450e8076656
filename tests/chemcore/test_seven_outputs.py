"""Every output of the shipped model (seven in v3) reaches every surface: the result page
(grouped, with the value a chemist reads), the API with its verdict, and the batch exports."""

import csv
import io

import pytest
from django.core.cache import cache
from django.test import TestCase

from batches import services as batch_services

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_throttle():
    cache.clear()
    yield
    cache.clear()


def test_the_shipped_model_has_seven_described_outputs(predictor):
    assert len(predictor.outputs) == 7
    groups = [spec.group for spec in predictor.outputs]
    assert groups[:3] == ["Physical chemistry"] * 3 and set(groups[3:]) == {"ADME (in vitro)"}
    assert all(spec.description and spec.unit and spec.range for spec in predictor.outputs)
    linear = {spec.label: spec.linear_unit for spec in predictor.outputs if spec.linear_unit}
    assert sorted(set(linear.values())) == ["mL/min/kg", "ratio", "µg/mL"]


def test_result_page_groups_outputs_and_shows_linear_values(client, predictor):
    response = client.post("/", {"smiles": "CC(=O)Oc1ccccc1C(=O)O"})
    html = client.get(response["Location"]).content.decode()
    table = html[html.index('<table class="values"') : html.index("</table>")]
    for spec in predictor.outputs:
        assert f'<th scope="row">{spec.label}</th>' in table.replace("&#x27;", "'")
    assert table.index(">Physical chemistry<") < table.index(">ADME (in vitro)<")
    # CLint as mL/min/kg, the efflux ratio as a ratio, the kinetic solubility as µg/mL and µM
    assert table.count(" mL/min/kg</span>") == 2
    assert "ratio ≈ " in table and " µg/mL (" in table and " µM)" in table
    assert "lower is better" in table and "higher is better" in table


def test_api_gives_every_output_with_its_verdict(client, predictor):
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(
            "/api/v1/predict", {"smiles": ["CCO", "c1ccccc1O"]}, content_type="application/json"
        )
    assert response.status_code == 200
    for result in response.json()["results"]:
        outputs = result["prediction"]["outputs"]
        assert [o["label"] for o in outputs] == [s.label for s in predictor.outputs]
        for output in outputs:
            assert output["domain"]["verdict"] in ("in", "care", "out")
            assert output["uncertainty"] > 0


def test_batch_exports_carry_every_output(predictor):
    batch = batch_services.batch_create(text="CCO\nc1ccccc1O\nCC(=O)Oc1ccccc1C(=O)O\n")
    assert batch_services.batch_run(batch_pk=batch.pk) == "done"
    from batches.files import exports

    text = "".join(exports.stream_csv(batch))
    rows = list(csv.reader(io.StringIO(text)))
    header = rows[0]
    for spec in predictor.outputs:
        assert f"{spec.label} [{spec.unit}]" in header, spec.label
    assert len(rows) == 4 and all(len(r) == len(header) for r in rows)
    sdf = "".join(exports.sdf_record(batch, row) for row in exports.iter_batch_rows(batch))
    for spec in predictor.outputs:
        assert sdf.count(spec.label) >= 3, spec.label


def test_a_value_past_an_assay_floor_reads_as_the_limit(client, predictor):
    """HLM's assay reports nothing below its floor (a third of its molecules sit there): an
    approved drug predicted a little below it is in domain by that reason, and the page reads
    its CLint as "≤" the floor, not as the number; the API gives the limit with the verdict."""
    from pathlib import Path

    from django.conf import settings

    spec = next(s for s in predictor.outputs if s.label.startswith("Human microsomal"))
    floor = spec.range["min"]
    with open(Path(settings.PREDICTION_MODEL_DIR) / "approved_drugs.csv", encoding="utf-8") as f:
        below = [r["smiles"] for r in csv.DictReader(f) if float(r[spec.label] or 9) < floor - 0.02]
    assert below, "no approved drug predicted below the HLM floor"
    smiles = min(below, key=len)
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(
            "/api/v1/predict", {"smiles": smiles}, content_type="application/json"
        )
    outputs = response.json()["results"][0]["prediction"]["outputs"]
    judged = next(o for o in outputs if o["label"] == spec.label)
    assert judged["value"] < floor
    assert judged["domain"]["limit"] == {"side": "below", "value": floor}
    assert any("the lowest value the assay reports" in r for r in judged["domain"]["reasons"])
    others = [o["domain"]["limit"] for o in outputs if o["label"] != spec.label]
    assert all(limit is None or limit["side"] in ("below", "above") for limit in others)
    page = client.get(response.json()["results"][0]["prediction"]["url"]).content.decode()
    row = page[page.index(f'<th scope="row">{spec.label}</th>') :]
    row = row[: row.index("</tr>")]
    assert f"≤ {10**floor:.2g} mL/min/kg" in row and "≈" not in row
