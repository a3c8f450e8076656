"""A list pasted into the home page's box starts a batch; one line predicts as before."""

import pytest
from django.test import Client, TestCase
from django.urls import reverse

from batches.models import Batch, BatchRow
from predictions.models import Prediction

pytestmark = pytest.mark.django_db

PASTED = (
    "smiles name\n"  # a header line, as copied with a spreadsheet column's title
    "CC(=O)Oc1ccccc1C(=O)O aspirin\n"
    "c1ccccc1O,phenol\n"
    "\n"
    "CCO\tethanol\n"
    "C1CC( broken ring\n"
    "CCN  ,  ethylamine, the base\n"
    "CCCC\n"
)


def _post(client: Client, text: str):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(reverse("predictions:home"), {"smiles": text})


def test_one_line_predicts_as_before(client, predictor):
    response = _post(client, "  c1ccccc1O \n\n")
    prediction = Prediction.objects.get()
    assert response.status_code == 302 and response["Location"] == prediction.get_absolute_url()
    assert not Batch.objects.exists()


def test_several_lines_start_the_visitors_batch_with_names_and_per_line_errors(
    client, queue, predictor
):
    response = _post(client, PASTED)
    batch = Batch.objects.get()
    assert response.status_code == 302 and response["Location"] == batch.get_absolute_url()
    assert batch.total_rows == 6 and batch.has_header
    assert queue() >= 1
    batch.refresh_from_db()
    assert batch.status == Batch.Status.DONE and (batch.done_count, batch.failed_count) == (5, 1)
    rows = {r.row_number: r for r in BatchRow.objects.filter(batch=batch)}
    assert [rows[n].input_id for n in range(1, 7)] == [
        "aspirin",
        "phenol",
        "ethanol",
        "broken ring",
        "ethylamine, the base",
        "",
    ]
    assert rows[4].status == BatchRow.Status.ERROR and "C1CC(" in rows[4].error
    page = client.get(batch.get_absolute_url()).content.decode()
    assert 'class="bad-rows"' in page and "C1CC(" in page  # the bad line, with its reason
    assert client.get(batch.get_absolute_url()).status_code == 200
    assert Client().get(batch.get_absolute_url()).status_code == 404  # the visitor's own
    # Batch molecules stay private: nothing was listed.
    assert not Prediction.objects.filter(public=True).exists()


def test_a_pasted_list_keeps_the_batch_row_limit(client, predictor, settings):
    settings.BATCH_MAX_ROWS = 3
    response = _post(client, "C\nCC\nCCC\nCCCC\n")
    assert response.status_code == 400
    html = response.content.decode()
    assert "more than 3 rows" in html and 'id="id_smiles_error"' in html
    assert not Batch.objects.exists()


def test_the_box_keeps_a_pasted_list_as_lines(client):
    html = client.get(reverse("predictions:home")).content.decode()
    assert '<textarea name="smiles"' in html and 'class="smiles-input"' in html
