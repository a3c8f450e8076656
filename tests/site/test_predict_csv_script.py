"""scripts/predict_csv.py against the live test server: a CSV in, a predicted CSV out."""

import csv
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token

from predictions.models import Prediction

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db(transaction=True)
def test_script_predicts_a_csv_through_the_api(live_server, predictor, tmp_path):
    token = Token.objects.create(user=User.objects.create_user("script", password="z" * 12))
    source = tmp_path / "in.csv"
    source.write_text("name,structure\nethanol,OCC\nbroken,C1CC\nphenol,c1ccccc1O\n")
    target = tmp_path / "out.csv"
    command = [sys.executable, "scripts/predict_csv.py", str(source), str(target)]
    command += ["--url", live_server.url, "--column", "structure", "--per-call", "2"]
    result = subprocess.run(
        [*command, "--token", token.key], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "3 rows, 2 predicted, 1 refused" in result.stdout
    rows = list(csv.DictReader(target.open()))
    assert [r["name"] for r in rows] == ["ethanol", "broken", "phenol"]
    assert rows[0]["canonical_smiles"] == "CCO" and rows[1]["error"] and not rows[2]["error"]
    label = f"{predictor.outputs[0].label} ({predictor.outputs[0].unit})"
    stored = Prediction.objects.get(public_id=rows[0]["prediction_id"])
    assert float(rows[0][label]) == pytest.approx(stored.outputs[0]["value"])
