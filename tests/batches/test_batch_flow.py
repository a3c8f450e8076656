"""Batches end to end through the real SQLite-backed Huey queue: upload → worker → pages → exports.

Tasks are enqueued by the views (once the batch is committed) into the SqliteHuey file,
dequeued and executed from it (`drain`), exactly as the consumer does; the separate-process
worker lives in test_batch_worker.py.
"""

import csv
import io
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from django.urls import reverse
from huey.contrib.djhuey import HUEY

from batches import owners
from batches import services as batch_services
from batches.models import Batch, BatchRow
from batches.tasks import run_batch
from chemreport.units import output_decimals
from molfiles.parsing import BatchRefused
from predictions import services
from predictions.models import Prediction

pytestmark = pytest.mark.django_db

CSV = (
    "\ufeffcompound_id,smiles,assay,site\r\n"
    "A-1,CCO,1.5,north\r\n"
    "A-2,c1ccccc1O,2.5,south\r\n"
    "A-3,C1CC,9,east\r\n"  # unclosed ring
    "A-4,OCC,3.5,west\r\n"  # same molecule as A-1
    "A-5,,4,none\r\n"
)


def _post(client, data: dict):
    """POST to the upload page; the test's transaction never commits, so run what the view
    registered for "on commit" as a commit would (queueing the batch)."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(reverse("batches:list"), data)


def _upload(client, data, name="screen.csv", **fields):
    upload = SimpleUploadedFile(name, data.encode("utf-8") if isinstance(data, str) else data)
    return _post(client, {"file": upload, **fields})


def _run(client, queue, data=CSV, **kwargs) -> Batch:
    response = _upload(client, data, **kwargs)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert HUEY.pending_count() == 1
    assert queue() >= 1
    batch = Batch.objects.get()
    assert response["Location"] == batch.get_absolute_url()
    return batch


def _owner(client) -> str:
    """Give the client's session an owner token, as its first upload would; its owner key."""
    session = client.session
    session[owners.SESSION_TOKEN] = "token-of-this-test-client"
    session.save()
    return owners.session_owner_key("token-of-this-test-client")


def _download(client, batch, name):
    response = client.get(reverse("batches:download", args=[batch.public_id, name]))
    assert response.status_code == 200 and response.streaming
    return b"".join(response.streaming_content)


def test_csv_upload_runs_in_the_background_and_keeps_every_row(client, queue, predictor):
    batch = _run(client, queue)
    assert (batch.status, batch.total_rows, batch.rows_processed) == ("done", 5, 5)
    assert not Path(batch.input_path).exists()  # rows are stored; the upload is not kept
    assert (batch.done_count, batch.failed_count, batch.predicted_count) == (3, 2, 2)
    rows = list(BatchRow.objects.filter(batch=batch).order_by("row_number"))
    assert [r.input_id for r in rows] == ["A-1", "A-2", "A-3", "A-4", "A-5"]
    assert rows[0].prediction_id == rows[3].prediction_id  # duplicate in the file: predicted once
    assert Prediction.objects.count() == 2
    assert all(p.source == "batch" for p in Prediction.objects.all())

    page = client.get(batch.get_absolute_url()).content.decode()
    assert 'role="progressbar"' in page and 'aria-valuenow="5"' in page
    assert "A-3" in page and "ring" in page.lower() and "No SMILES in this row." in page
    assert "htmx.min.js" in page


def test_csv_export_matches_stored_predictions_with_ids_and_columns(client, queue, predictor):
    batch = _run(client, queue)
    table = list(csv.DictReader(io.StringIO(_download(client, batch, "results.csv").decode())))
    assert [r["row"] for r in table] == ["1", "2", "3", "4", "5"]
    assert [r["compound_id"] for r in table] == ["A-1", "A-2", "A-3", "A-4", "A-5"]
    assert [(r["assay"], r["site"]) for r in table][1] == ("2.5", "south")
    units = [f"{o.label} [{o.unit}]" if o.unit else o.label for o in predictor.outputs]
    for record in table:
        if record["status"] == "ok":
            stored = Prediction.objects.get(public_id=record["prediction_id"])
            assert record["canonical_smiles"] == stored.canonical_smiles
            assert [float(record[h]) for h in units] == [
                round(o["value"], output_decimals(o["label"])) for o in stored.outputs
            ]
        else:
            assert record["error"] and all(record[h] == "" for h in units)
    assert table[2]["smiles"] == "C1CC" and "ring" in table[2]["error"].lower()


def test_sdf_and_zip_exports_hold_every_row(client, queue, predictor):
    from rdkit import Chem

    batch = _run(client, queue)
    supplier = Chem.SDMolSupplier()
    supplier.SetData(_download(client, batch, "results.sdf").decode())
    records = list(supplier)
    assert len(records) == 5
    assert [m.GetProp("_Name") for m in records] == ["A-1", "A-2", "A-3", "A-4", "A-5"]
    first = Prediction.objects.get(canonical_smiles="CCO")
    header = f"{first.outputs[0]['label']} [{first.outputs[0]['unit']}]"
    assert float(records[0].GetProp(header)) == first.outputs[0]["value"]
    assert records[1].GetProp("site") == "south" and records[2].GetProp("status") == "error"

    client.post(reverse("batches:zip", args=[batch.public_id]))
    assert queue() == 1  # the worker builds the ZIP
    bundle = zipfile.ZipFile(io.BytesIO(_download(client, batch, "results.zip")))
    names = bundle.namelist()
    assert names[0] == "results.csv"
    assert bundle.read("results.csv").decode() == _download(client, batch, "results.csv").decode()
    for row in BatchRow.objects.filter(batch=batch, status="ok"):  # named by compound ID
        assert bundle.read(f"molecules/{row.input_id}.png").startswith(b"\x89PNG")
        assert bundle.read(f"plots/{row.input_id}.png").startswith(b"\x89PNG")
        stored = Prediction.objects.get(pk=row.prediction_id)  # drawn once, then kept
        assert bytes(stored.molecule_png) == bundle.read(f"molecules/{row.input_id}.png")


def test_batch_molecules_are_drawn_on_view_without_a_write_and_stay_out_of_the_gallery(
    client, queue, predictor
):
    _run(client, queue)
    prediction = Prediction.objects.get(canonical_smiles="CCO")
    assert not prediction.molecule_svg and not prediction.plot_png
    url = reverse("predictions:download", args=[prediction.public_id, "molecule.svg"])
    response = client.get(url)
    assert response.status_code == 200 and b"<svg" in response.content
    prediction.refresh_from_db()
    assert not prediction.molecule_svg and not prediction.plot_png  # a GET stores nothing
    assert client.get(url).content == response.content  # the same picture (render cache)
    assert client.get(prediction.get_absolute_url()).status_code == 200  # by its link only
    assert prediction.public_id not in client.get(reverse("predictions:gallery")).content.decode()


def test_molecules_already_stored_are_not_predicted_again(client, queue, predictor, monkeypatch):
    services.prediction_get_or_create(text="CCO")
    calls = []
    original = type(predictor).forward
    monkeypatch.setattr(
        type(predictor),
        "forward",
        lambda self, m, **k: (
            calls.append([x.canonical_smiles for x in m]) or original(self, m, **k)
        ),
    )
    batch = _run(client, queue)
    assert calls == [["Oc1ccccc1"]]
    assert batch.predicted_count == 1 and Prediction.objects.count() == 2


def test_progress_fragment_reports_the_true_counts_and_stops_polling(client, queue, predictor):
    batch = _run(client, queue)
    url = reverse("batches:progress", args=[batch.public_id])
    response = client.get(url, headers={"HX-Request": "true"})
    assert response.status_code == 286
    text = response.content.decode()
    assert 'aria-valuenow="5"' in text and 'aria-valuemax="5"' in text and "hx-trigger" not in text
    assert (
        '<span data-count="done">3</span>' in text and '<span data-count="failed">2</span>' in text
    )


def test_progress_fragment_polls_while_running(client, predictor):
    batch = batch_services.batch_create(text="CCO\nCCN\n", owner_key=_owner(client))
    text = client.get(reverse("batches:progress", args=[batch.public_id])).content.decode()
    assert 'hx-trigger="every 1s"' in text and 'aria-valuenow="0"' in text


def test_pasted_smiles(client, queue, predictor):
    response = _post(client, {"text": "CCO ethanol\nc1ccncc1 pyridine\n"})
    assert response.status_code == 302
    queue()
    rows = BatchRow.objects.order_by("row_number")
    assert [(r.input_id, r.status) for r in rows] == [("ethanol", "ok"), ("pyridine", "ok")]


def test_a_paste_or_list_is_checked_in_memory_and_written_once_it_passes(predictor, settings):
    uploads = Path(settings.BATCH_UPLOAD_DIR)
    before = set(uploads.glob("*")) if uploads.exists() else set()
    for refused in ("smiles,smiles\nCCO,CCN\n", "CCO\n\x00\n"):
        with pytest.raises(BatchRefused):
            batch_services.batch_create(text=refused)
    with pytest.raises(BatchRefused):
        batch_services.batch_create_any(smiles=["CCO"] * (settings.BATCH_MAX_ROWS + 1))
    assert (set(uploads.glob("*")) if uploads.exists() else set()) == before  # nothing written
    batch = batch_services.batch_create_any(smiles=["CCO", "CCN"], ids=["a", "b"])
    assert (set(uploads.glob("*")) - before) == {Path(batch.input_path)}
    assert (batch.filename, batch.total_rows, batch.id_column) == ("molecules.csv", 2, "id")


def test_cancel_stops_the_batch(client, queue, predictor, settings):
    settings.BATCH_CHUNK_ROWS = 2
    response = _upload(client, "smiles\nC\nCC\nCCC\nCCCC\nCCCCC\n")
    batch = Batch.objects.get()
    page = client.get(batch.get_absolute_url()).content.decode()
    assert "Cancel batch" in page and "csrfmiddlewaretoken" in page
    assert response.status_code == 302
    assert client.post(reverse("batches:cancel", args=[batch.public_id])).status_code == 302
    queue()
    batch.refresh_from_db()
    assert batch.status == "cancelled" and batch.rows_processed == 0
    assert not BatchRow.objects.exists()


def test_cancel_mid_run_keeps_finished_chunks(queue, predictor, settings, monkeypatch):
    settings.BATCH_CHUNK_ROWS = 2
    batch = batch_services.batch_create(text="C\nCC\nCCC\nCCCC\nCCCCC\n")
    run_batch(str(batch.pk))
    original = batch_services.process_chunk

    def then_cancel(**kwargs):
        result = original(**kwargs)
        batch_services.batch_cancel(batch=batch)
        return result

    monkeypatch.setattr(batch_services, "process_chunk", then_cancel)
    queue()
    batch.refresh_from_db()
    assert (batch.status, batch.rows_processed) == ("cancelled", 2)
    assert BatchRow.objects.count() == 2


def test_a_chunk_rerun_after_a_crash_stores_each_row_once(predictor, settings):
    settings.BATCH_CHUNK_ROWS = 2
    batch = batch_services.batch_create(text="C\nCC\nCCC\nCC\n")
    rows = list(batch_services._chunks(batch, 2))
    # A worker died after storing chunk 2's rows but before moving the cursor.
    batch_services.process_chunk(batch=batch, rows=rows[1], model=predictor)
    assert batch_services.batch_run(batch_pk=batch.pk) == "done"
    numbers = list(BatchRow.objects.filter(batch=batch).values_list("row_number", flat=True))
    assert sorted(numbers) == [1, 2, 3, 4]
    assert Prediction.objects.count() == 3


@pytest.mark.parametrize(
    ("data", "name", "fields", "message"),
    [
        ("", "empty.csv", {}, "empty"),
        (b"\x00\x01\x02binary\x00", "data.csv", {}, "binary"),
        ("a,b\n1,2\n", "cols.csv", {}, "No SMILES column"),
        ("id,smiles\n1,C\n", "in.csv", {"smiles_column": "structure"}, "no SMILES column"),
        ("smiles\n" + "C\n" * 6, "rows.csv", {}, "limit is 5"),
        (
            "smiles\n" + "C" * (2**20 + 2**19) + "\n",
            "size.csv",
            {},
            "is 1.5 MiB; the limit is 1 MiB.",
        ),
        ('smiles,id\nCCO,"A-1\nCCC,A-2\n', "quote.csv", {}, "starts on line 2 is never closed"),
        ("smiles,id,smiles\nC,1,C\n", "dup.csv", {}, "Columns 1 and 3 are both named"),
    ],
)
def test_bad_uploads_are_refused_up_front(
    client, queue, predictor, settings, data, name, fields, message
):
    settings.BATCH_MAX_ROWS = 5
    if name == "size.csv":
        settings.BATCH_MAX_UPLOAD_BYTES = 2**20
    response = _upload(client, data, name=name, **fields)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert HUEY.pending_count() == 0 and not Batch.objects.exists()


def test_the_form_states_the_limits_from_settings(client, settings):
    settings.BATCH_MAX_UPLOAD_BYTES = 5 * 2**20
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2**19
    html = client.get("/batches/").content.decode()
    assert "Up to 5 MiB and 100,000 rows" in html and "Up to 0.5 MiB: upload a file" in html
    assert 'aria-describedby="id_file_helptext"' in html


def test_nothing_to_upload_is_refused(client, queue):
    response = _post(client, {"text": "  "})
    assert response.status_code == 400 and "Choose a file or paste" in response.content.decode()
    assert HUEY.pending_count() == 0


def test_user_text_is_escaped(client, queue, predictor):
    batch = _run(client, queue, data="name,smiles\n<script>x</script>,C<b>\n")
    page = client.get(batch.get_absolute_url()).content.decode()
    assert "<script>x</script>" not in page and "&lt;script&gt;" in page


def test_batch_list_and_unknown_ids(client, queue, predictor):
    batch = _run(client, queue)
    assert "screen.csv" in client.get(reverse("batches:list")).content.decode()
    assert client.get("/batches/999999/").status_code == 404
    assert client.get("/batches/not-an-id/").status_code == 404
    assert (
        client.get(reverse("batches:download", args=[batch.public_id, "x.exe"])).status_code == 404
    )


def test_sdf_upload_keeps_titles_and_sd_fields_in_exports(client, queue, predictor):
    from rdkit import Chem

    records = []
    for name, smiles, field in [
        ("aspirin", "CC(=O)Oc1ccccc1C(=O)O", "CHEMBL25"),
        ("phenol", "Oc1ccccc1", "X"),
    ]:
        mol = Chem.MolFromSmiles(smiles)
        mol.SetProp("_Name", name)
        mol.SetProp("source_id", field)
        buffer = io.StringIO()
        with Chem.SDWriter(buffer) as writer:
            writer.write(mol)
        records.append(buffer.getvalue())
    batch = _run(client, queue, data="".join(records).replace("\n", "\r\n"), name="lib.sdf")
    table = list(csv.DictReader(io.StringIO(_download(client, batch, "results.csv").decode())))
    assert [(r["Name"], r["source_id"], r["status"]) for r in table] == [
        ("aspirin", "CHEMBL25", "ok"),
        ("phenol", "X", "ok"),
    ]
    supplier = Chem.SDMolSupplier()
    supplier.SetData(_download(client, batch, "results.sdf").decode())
    assert [(m.GetProp("_Name"), m.GetProp("source_id")) for m in supplier] == [
        ("aspirin", "CHEMBL25"),
        ("phenol", "X"),
    ]


def test_smi_upload_with_tsv_style_names(client, queue, predictor):
    batch = _run(client, queue, data="\ufeffCCO ethanol\r\nC1CC broken ring\r\n", name="list.smi")
    table = list(csv.DictReader(io.StringIO(_download(client, batch, "results.csv").decode())))
    assert [(r["row"], r["Name"], r["SMILES"], r["status"]) for r in table] == [
        ("1", "ethanol", "CCO", "ok"),
        ("2", "broken ring", "C1CC", "error"),
    ]


def test_the_batch_is_queued_only_once_committed(client, queue, predictor):
    upload = SimpleUploadedFile("screen.csv", CSV.encode())
    with TestCase.captureOnCommitCallbacks(execute=False) as callbacks:
        response = client.post(reverse("batches:list"), {"file": upload})
        assert response.status_code == 302 and Batch.objects.count() == 1
        assert HUEY.pending_count() == 0  # not before the commit: the worker could miss it
    assert len(callbacks) == 1
    callbacks[0]()
    assert HUEY.pending_count() == 1


def test_services_store_without_queueing(predictor):
    HUEY.flush()
    batch = batch_services.batch_create(text="CCO\n")
    assert batch.status == Batch.Status.QUEUED and HUEY.pending_count() == 0


def test_resume_queues_active_batches_no_live_worker_holds(queue, predictor):
    from datetime import timedelta

    from django.utils import timezone

    from batches import selectors
    from batches.tasks import resume_batches

    now = timezone.now()
    made = {}
    for name, status, lease in [
        ("queued", Batch.Status.QUEUED, None),
        ("dead-worker", Batch.Status.RUNNING, now - timedelta(seconds=5)),
        ("live-worker", Batch.Status.RUNNING, now + timedelta(minutes=5)),
        ("done", Batch.Status.DONE, None),
        ("cancelled", Batch.Status.CANCELLED, None),
    ]:
        batch = batch_services.batch_create(text="CCO\n")
        Batch.objects.filter(pk=batch.pk).update(status=status, lease_until=lease)
        made[name] = str(batch.pk)
    assert Batch.objects.active().count() == 3
    expected = {made["queued"], made["dead-worker"]}
    assert set(selectors.batch_ids_to_resume()) == expected
    assert set(resume_batches()) == expected and HUEY.pending_count() == 2


def test_a_batch_held_by_another_worker_is_tried_again_after_its_lease(predictor, settings):
    from datetime import timedelta

    from django.utils import timezone

    HUEY.flush()
    batch = batch_services.batch_create(text="CCO\n")
    Batch.objects.filter(pk=batch.pk).update(
        status=Batch.Status.RUNNING,
        lease_owner="another-worker",
        lease_until=timezone.now() + timedelta(minutes=5),
    )
    assert run_batch.call_local(str(batch.pk)) == Batch.Status.RUNNING
    task = HUEY.dequeue()
    assert task.args == (str(batch.pk),) and task.eta is not None
    batch.refresh_from_db()
    assert batch.rows_processed == 0 and not BatchRow.objects.exists()
    HUEY.flush()


def test_bad_rows_are_reported_per_row_not_changed_or_dropped(client, queue, predictor):
    data = "id,smiles\nA-1,C😀\nA-2,c1ccccc1ééé\nA-3,CCO,stray\nA-4,\ufeffCCN\n"
    batch = _run(client, queue, data=data)
    rows = list(BatchRow.objects.filter(batch=batch).order_by("row_number"))
    assert [(r.status, r.canonical_smiles) for r in rows] == [
        ("error", ""),
        ("error", ""),
        ("error", ""),
        ("ok", "CCN"),
    ]
    assert "'😀' (U+1F600) at position 2 is not ASCII" in rows[0].error
    assert "'é' (U+00E9) at position 9 is not ASCII" in rows[1].error
    assert rows[2].error.startswith("Line 4: this row has 3 cells but the header has 2")
    page = client.get(batch.get_absolute_url()).content.decode()
    assert "at position 9 is not ASCII" in page


def test_a_body_over_the_upload_limit_is_refused_from_its_content_length(client, settings):
    settings.BATCH_MAX_UPLOAD_BYTES = 2**20
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2**20
    # The declared length alone decides: the body is never read (here it is not even sent).
    response = client.generic("POST", reverse("batches:list"), b"", CONTENT_LENGTH=str(5 * 2**20))
    assert response.status_code == 413
    assert "The request is 5 MiB; batch files are limited to 1 MiB" in response.content.decode()
    assert not Batch.objects.exists()
