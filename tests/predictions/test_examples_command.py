"""The example loader: enough named approved drugs, featured, and idempotent."""

import pytest
from django.core.management import call_command

from predictions.models import Prediction, Source


@pytest.mark.slow  # predicts every example
@pytest.mark.django_db
def test_load_examples_is_idempotent(predictor, capsys):
    call_command("load_examples")
    count = Prediction.objects.count()
    assert count >= 30
    assert Prediction.objects.filter(featured=True, source=Source.EXAMPLE).count() == count
    assert Prediction.objects.filter(title="Aspirin").exists()
    call_command("load_examples")
    assert Prediction.objects.count() == count
    assert f"0 created, {count} already stored" in capsys.readouterr().out


@pytest.mark.slow  # predicts every example
@pytest.mark.django_db
def test_load_examples_names_a_molecule_already_predicted_from_the_form(predictor, make_prediction):
    earlier = make_prediction("CC(=O)Oc1ccccc1C(=O)O")
    call_command("load_examples")
    earlier.refresh_from_db()
    assert earlier.title == "Aspirin"
