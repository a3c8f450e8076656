"""Issue 21 item 7: a storage limit per batch, and an expiry for batches, ZIPs and temp files.

A 13.6 MiB SDF (100,000 tiny records, 200 SD fields) once became ~680 MB in the database,
229 MB of it the carried fields; nothing expired, and a killed upload or ZIP build left its
temporary file behind until the batch was deleted.
"""

import io
import os
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from batches import services as batch_services
from batches.models import Batch, BatchRow
from batches.tasks import expire_old_batches
from batches.worker import expiry
from molfiles.parsing import BatchRefused, Layout

pytestmark = pytest.mark.django_db


def _sdf(records: int, fields: int) -> str:
    body = "".join(f"> <f{k:03d}>\n{k}\n\n" for k in range(fields))
    record = "\n  RDKit          2D\n\n  0  0  0  0  0  0  0  0  0  0999 V2000\nM  END\n"
    return "".join(f"m{i}{record}> <SMILES>\nC\n\n{body}$$$$\n" for i in range(records))


def test_the_reported_sdf_is_over_the_default_limit():
    """100,000 records with 200 fields: estimated from its layout alone, no file needed."""
    from django.conf import settings

    layout = Layout("sdf", 100_000, False, "SMILES", "Name", [f"f{k:03d}" for k in range(200)])
    carried = batch_services.carried_bytes(layout, int(13.6 * 2**20))
    assert carried > settings.BATCH_MAX_CARRIED_BYTES == 64 * 2**20
    assert 200 * 2**20 < carried < 400 * 2**20  # the order of the 229 MB measured
    # An ordinary 100,000-row CSV with a few short columns stays well inside.
    csv_layout = Layout("csv", 100_000, True, "smiles", "id", ["assay", "site", "batch"])
    assert batch_services.carried_bytes(csv_layout, 6 * 2**20) < 16 * 2**20


def test_a_batch_carrying_too_much_is_refused_at_upload(client, predictor, settings):
    settings.BATCH_MAX_CARRIED_BYTES = 2**20
    data = _sdf(records=600, fields=199).encode()  # + SMILES: 200
    assert len(data) < settings.BATCH_MAX_UPLOAD_BYTES  # the file itself is allowed
    uploads = list(Path(settings.BATCH_UPLOAD_DIR).glob("*"))
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(
            reverse("batches:list"), {"file": SimpleUploadedFile("wide.sdf", data)}
        )
    assert response.status_code == 400
    page = response.content.decode()
    assert "200 SD fields over 600 rows would take about" in page
    assert "the limit is 1 MiB" in page and "Keep only the SD fields you need" in page
    assert not Batch.objects.exists() and HUEY.pending_count() == 0
    assert list(Path(settings.BATCH_UPLOAD_DIR).glob("*")) == uploads  # nothing left on disk
    # The same records with a few fields are accepted.
    batch = batch_services.batch_create(upload=SimpleUploadedFile("ok.sdf", _sdf(600, 3).encode()))
    assert batch.total_rows == 600 and len(batch.columns) == 4  # SMILES + 3


def test_a_file_with_no_carried_columns_has_no_storage_to_limit(predictor, settings):
    settings.BATCH_MAX_CARRIED_BYTES = 1
    batch = batch_services.batch_create(text="CCO\nCCN\n")
    assert batch.columns == [] and batch.total_rows == 2
    with pytest.raises(BatchRefused):
        batch_services.batch_create(text="smiles,note\nCCO,x\n")


def _age(path: Path, hours: float) -> Path:
    stamp = time.time() - hours * 3600
    os.utime(path, (stamp, stamp))
    return path


def _batch(settings, status, finished_days_ago=None, upload=False) -> Batch:
    path = Path(settings.BATCH_UPLOAD_DIR) / f"{status}-{finished_days_ago}.csv"
    if upload:
        path.write_text("smiles\nC\n")
    finished = None
    if finished_days_ago is not None:
        finished = timezone.now() - timedelta(days=finished_days_ago)
    batch = Batch.objects.create(
        filename="in.csv",
        input_path=str(path),
        file_format="csv",
        status=status,
        finished_at=finished,
        total_rows=1,
    )
    BatchRow.objects.create(batch=batch, row_number=1, status="ok", extra={"a": "b"})
    return batch


@pytest.fixture
def dirs(settings, tmp_path):
    settings.BATCH_UPLOAD_DIR = tmp_path / "batches"
    settings.BATCH_EXPORT_DIR = tmp_path / "exports"
    settings.FILE_UPLOAD_TEMP_DIR = tmp_path / "upload-tmp"
    for name in ("batches", "exports", "upload-tmp"):
        (tmp_path / name).mkdir()
    settings.BATCH_EXPIRY_DAYS = 30
    settings.BATCH_ZIP_EXPIRY_DAYS = 7
    settings.BATCH_TEMP_EXPIRY_HOURS = 6
    return tmp_path


def _scene(settings, dirs) -> dict:
    exports, uploads, spool = dirs / "exports", dirs / "batches", dirs / "upload-tmp"
    old_done = _batch(settings, Batch.Status.DONE, 31)
    old_failed = _batch(settings, "failed", 40, upload=True)  # a failed batch keeps its upload
    recent = _batch(settings, Batch.Status.DONE, 2)
    running = _batch(settings, Batch.Status.RUNNING, None, upload=True)
    Batch.objects.filter(pk=running.pk).update(created_at=timezone.now() - timedelta(days=90))
    _age(Path(running.input_path), 24 * 90)  # an old upload a batch still needs
    files = {
        "old_zip": exports / f"{old_done.public_id}.zip",  # goes with its batch
        "expired_zip": exports / f"{recent.public_id}.zip",
        "fresh_zip": exports / "fresh.zip",
        "killed_part": exports / "x.zip.0123.part",
        "live_part": exports / "y.zip.4567.part",
        "stale_state": exports / "z.json",
        "orphan_upload": uploads / "0a1b.csv",
        "fresh_upload": uploads / "2c3d.sdf",
        "killed_spool": spool / "tmpab12.upload.sdf",
        "live_spool": spool / "tmpcd34.upload.csv",
    }
    for path in files.values():
        path.write_bytes(b"x" * 10)
    _age(files["expired_zip"], 24 * 8)
    _age(files["fresh_zip"], 24 * 6)
    for name in ("killed_part", "stale_state", "orphan_upload", "killed_spool"):
        _age(files[name], 7)
    for name in ("live_part", "fresh_upload", "live_spool"):
        _age(files[name], 1)
    return {
        "old": [old_done.pk, old_failed.pk],
        "kept": [recent.pk, running.pk],
        "old_upload": Path(old_failed.input_path),
        "running_upload": Path(running.input_path),
        "files": files,
    }


def _check_expired(scene) -> None:
    assert set(Batch.objects.values_list("pk", flat=True)) == set(scene["kept"])
    assert not BatchRow.objects.filter(batch_id__in=scene["old"]).exists()
    assert BatchRow.objects.filter(batch_id__in=scene["kept"]).count() == 2
    assert not scene["old_upload"].exists()  # went with its batch
    assert scene["running_upload"].exists()  # an active batch is never expired
    gone = {"old_zip", "expired_zip", "killed_part", "stale_state", "orphan_upload"}
    gone |= {"killed_spool"}
    for name, path in scene["files"].items():
        assert path.exists() == (name not in gone), name


def test_expire_batches_command_deletes_what_has_expired_and_nothing_else(settings, dirs):
    scene = _scene(settings, dirs)
    before = {name: path.exists() for name, path in scene["files"].items()}
    call_command("expire_batches", "--dry-run", stdout=(out := io.StringIO()))
    assert "Would delete: 2 batches, 1 zips, 2 partial files, 1 uploads, 1 upload temp" in (
        out.getvalue()
    )
    assert Batch.objects.count() == 4
    assert {name: path.exists() for name, path in scene["files"].items()} == before

    call_command("expire_batches", stdout=(out := io.StringIO()))
    assert "Deleted: 2 batches, 1 zips, 2 partial files, 1 uploads, 1 upload temp files" in (
        out.getvalue()
    )
    _check_expired(scene)


def test_zero_means_never(settings, dirs):
    scene = _scene(settings, dirs)
    settings.BATCH_EXPIRY_DAYS = settings.BATCH_ZIP_EXPIRY_DAYS = 0
    settings.BATCH_TEMP_EXPIRY_HOURS = 0
    assert not any(expiry.expire().values())
    assert Batch.objects.count() == 4 and all(p.exists() for p in scene["files"].values())


def test_the_worker_runs_the_expiry_every_hour(settings, dirs):
    """What the consumer's scheduler asks each minute (Huey.read_periodic): due at :07."""
    minutes = [datetime(2026, 12, 4, h, m) for h in range(24) for m in range(60)]
    due = [
        t for t in minutes if "expire_old_batches" in [task.name for task in HUEY.read_periodic(t)]
    ]
    assert len(due) == 24 and {t.minute for t in due} == {7}
    scene = _scene(settings, dirs)
    expire_old_batches.call_local()
    _check_expired(scene)


def test_uploads_spool_to_a_directory_the_expiry_cleans(settings):
    from django.conf import settings as live

    assert Path(live.FILE_UPLOAD_TEMP_DIR).is_dir()
    assert Path(live.FILE_UPLOAD_TEMP_DIR).parent == Path(live.VAR_DIR)
