"""results.zip is built by the worker's task as a file; the web asks for it and serves the file.

Through the real SqliteHuey queue (tasks dequeued and executed as the consumer does), the
real model and RDKit drawing, and two client sessions.
"""

import csv
import io
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, TestCase
from django.urls import reverse
from huey.contrib.djhuey import HUEY

from batches.files import archive
from batches.models import Batch, BatchRow
from batches.worker import holders
from predictions.models import Prediction

pytestmark = pytest.mark.django_db

CSV = "id,smiles\n" + "".join(
    f"Z-{i},{s}\n"
    for i, s in enumerate(["CCO", "c1ccccc1O", "C1CC", "CCN", "OCC", "CC(=O)O", "CCCl"], 1)
)


def _batch(client: Client, queue) -> Batch:
    upload = SimpleUploadedFile("zip.csv", CSV.encode())
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(reverse("batches:list"), {"file": upload})
    assert response.status_code == 302
    queue()
    batch = Batch.objects.get()
    assert batch.status == Batch.Status.DONE
    return batch


def _zip_url(batch: Batch) -> str:
    return reverse("batches:download", args=[batch.public_id, "results.zip"])


def _prepare(client: Client, batch: Batch):
    return client.post(reverse("batches:zip", args=[batch.public_id]))


def _drawn() -> int:
    return Prediction.objects.exclude(molecule_png=None).count()


def test_zip_is_built_by_the_task_valid_with_every_row(client, queue, predictor):
    batch = _batch(client, queue)
    assert client.get(_zip_url(batch))["Location"].endswith("#zip")  # not built yet
    page = client.get(batch.get_absolute_url()).content.decode()
    assert "Prepare results.zip" in page

    assert _prepare(client, batch).status_code == 302
    assert _prepare(client, batch).status_code == 302  # asked twice: queued once
    assert HUEY.pending_count() == 1
    fragment = client.get(reverse("batches:zip", args=[batch.public_id]))
    assert "waiting for the worker" in fragment.content.decode()
    assert queue() == 1

    response = client.get(_zip_url(batch))
    body = b"".join(response.streaming_content)
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert int(response["Content-Length"]) == len(body)
    assert f"{batch.public_id}-results.zip" in response["Content-Disposition"]
    assert "private" in response["Cache-Control"]
    again = client.get(_zip_url(batch), HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304 and not again.content
    bundle = zipfile.ZipFile(io.BytesIO(body))
    assert bundle.testzip() is None
    table = list(csv.DictReader(io.StringIO(bundle.read("results.csv").decode())))
    assert [r["id"] for r in table] == [f"Z-{i}" for i in range(1, 8)]  # every row, in order
    ok = BatchRow.objects.filter(batch=batch, status="ok")
    ids = {row.prediction_public_id for row in ok}
    assert len(ids) == 5 and ok.count() == 6  # CCO and OCC are one molecule
    for row in ok:  # each row's pictures, named by its compound ID
        assert bundle.read(f"molecules/{row.input_id}.png").startswith(b"\x89PNG")
        assert bundle.read(f"plots/{row.input_id}.png").startswith(b"\x89PNG")
    assert len(bundle.namelist()) == 1 + 2 * ok.count()

    page = client.get(batch.get_absolute_url()).content.decode()
    assert _zip_url(batch) in page and "Prepare results.zip" not in page


def test_the_web_download_draws_nothing(client, queue, predictor):
    batch = _batch(client, queue)
    client.get(_zip_url(batch))
    client.get(batch.get_absolute_url())
    assert _drawn() == 0  # asking before it is built draws nothing either
    _prepare(client, batch)
    queue()
    built = archive.zip_file(batch=batch).read_bytes()
    Prediction.objects.update(molecule_png=None, plot_png=None)  # forget the drawn pictures

    response = client.get(_zip_url(batch))
    assert b"".join(response.streaming_content) == built  # the file, as the worker wrote it
    assert _drawn() == 0


def test_another_visitor_gets_404_for_the_zip(queue, predictor):
    owner, other = Client(), Client()
    batch = _batch(owner, queue)
    state_url = reverse("batches:zip", args=[batch.public_id])
    assert other.post(state_url).status_code == 404
    assert HUEY.pending_count() == 0
    _prepare(owner, batch)
    queue()
    assert owner.get(_zip_url(batch)).status_code == 200
    assert other.get(_zip_url(batch)).status_code == 404
    assert other.get(state_url).status_code == 404
    assert Client().get(_zip_url(batch)).status_code == 404


def test_progress_is_polled_and_polling_stops_when_ready(client, queue, predictor):
    batch = _batch(client, queue)
    _prepare(client, batch)
    state_url = reverse("batches:zip", args=[batch.public_id])
    polled = client.get(state_url, headers={"HX-Request": "true"})
    assert polled.status_code == 200 and 'hx-trigger="every 1s"' in polled.content.decode()
    queue()
    done = client.get(state_url, headers={"HX-Request": "true"})
    assert done.status_code == 286  # htmx stops polling
    assert _zip_url(batch) in done.content.decode()


def test_a_build_whose_worker_died_is_offered_again(client, queue, predictor):
    batch = _batch(client, queue)
    _prepare(client, batch)
    HUEY.flush()  # the task was taken by a worker that then died mid-build:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    host = holders.worker_id().rsplit(":", 2)[0]
    archive._write_state(batch.public_id, worker=f"{host}:{gone.pid}:0a1b2c3d", rows=3)
    state = archive.zip_state(batch=batch)
    assert state.status == "failed" and "stopped" in state.error
    assert _prepare(client, batch).status_code == 302 and queue() == 1
    assert archive.zip_state(batch=batch).status == "ready"


def test_deleting_the_batch_removes_its_zip(client, queue, predictor):
    batch = _batch(client, queue)
    _prepare(client, batch)
    queue()
    path = archive.zip_file(batch=batch)
    assert path is not None and path.is_file()
    Batch.objects.filter(pk=batch.pk).delete()  # a bulk delete, as the admin's action does
    assert not path.exists()
    assert not list(Path(path.parent).glob(f"{batch.public_id}.*"))
