"""results.zip as a file the Huey worker builds: the web asks for it, shows progress, serves it.

Drawing a picture takes ~80 ms, so a ZIP of a large batch must never be built inside a web
request (two concurrent 5,000-row downloads once took every gunicorn worker down, and the
truncated ZIP went out with status 200). Files live in settings.BATCH_EXPORT_DIR, named by
the batch's link id (web and worker must share the directory):

- `<id>.zip`: the finished archive, renamed into place only once complete;
- `<id>.json`: the build's state while it is asked for or running:
  {"worker": worker id or "" while queued, "rows": rows packed, "error": why it failed}.

No database fields: the files are the state, and `zip_delete` removes them with the batch.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from batches.files.exports import write_zip
from batches.models import Batch
from batches.worker import holders
from molfiles.parsing import public_message

ZIP_NAME = "results.zip"


@dataclass(frozen=True)
class ZipState:
    """What the batch page shows: none (offer to prepare), queued, building, ready or failed."""

    status: str
    rows: int = 0
    total: int = 0
    size: int = 0
    error: str = ""

    @property
    def busy(self) -> bool:
        return self.status in ("queued", "building")

    @property
    def percent(self) -> int:
        return int(100 * self.rows / self.total) if self.total else 0


def _export_dir() -> Path:
    directory = Path(settings.BATCH_EXPORT_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _zip_path(public_id: str) -> Path:
    return _export_dir() / f"{public_id}.zip"


def _state_path(public_id: str) -> Path:
    return _export_dir() / f"{public_id}.json"


def _write_state(public_id: str, **state) -> None:
    """Replace the state file in one rename, so a reader never sees half of it."""
    path = _state_path(public_id)
    part = path.with_name(f"{path.name}.{uuid.uuid4().hex}.part")
    part.write_text(json.dumps(state))
    os.replace(part, path)


def _read_state(public_id: str) -> dict | None:
    try:
        return json.loads(_state_path(public_id).read_text())
    except (FileNotFoundError, ValueError):
        return None


def zip_file(*, batch: Batch) -> Path | None:
    """The finished archive, if there is one."""
    path = _zip_path(batch.public_id)
    return path if path.is_file() else None


def zip_state(*, batch: Batch) -> ZipState:
    if path := zip_file(batch=batch):
        return ZipState("ready", batch.total_rows, batch.total_rows, path.stat().st_size)
    state = _read_state(batch.public_id)
    if state is None:
        return ZipState("none", total=batch.total_rows)
    if state.get("error"):
        return ZipState("failed", total=batch.total_rows, error=public_message(state["error"]))
    worker = state.get("worker", "")
    if worker and holders.is_gone(worker):  # its worker died mid-build: offer it again
        return ZipState("failed", total=batch.total_rows, error="The worker building it stopped.")
    rows = min(int(state.get("rows", 0)), batch.total_rows)
    return ZipState("building" if worker else "queued", rows, batch.total_rows)


def zip_request(*, batch: Batch) -> bool:
    """Ask for the archive of a finished batch; True when a build must be queued.

    Nothing to queue while one is ready, queued or building. The caller queues the task.
    """
    if not batch.is_finished or zip_state(batch=batch).status not in ("none", "failed"):
        return False
    _write_state(batch.public_id, worker="", rows=0)
    return True


def zip_build(*, batch_pk: str) -> str:
    """Build the archive (the worker's task): drawn pictures are kept, the ZIP renamed into place.

    Returns the state it ends in. A worker killed mid-build leaves a `.part` file that
    `zip_delete` removes and a state file naming the dead worker (shown as failed).
    """
    batch = Batch.objects.filter(pk=batch_pk).first()
    if batch is None:
        return "none"  # deleted meanwhile
    if zip_file(batch=batch):
        return "ready"
    me = holders.worker_id()
    public_id = batch.public_id
    _write_state(public_id, worker=me, rows=0)
    target = _zip_path(public_id)
    part = target.with_name(f"{target.name}.{uuid.uuid4().hex}.part")
    try:
        with part.open("wb") as out:
            write_zip(batch, out, lambda rows: _write_state(public_id, worker=me, rows=rows))
            out.flush()
            os.fsync(out.fileno())
        os.replace(part, target)
        if not Batch.objects.filter(pk=batch_pk).exists():  # deleted while we built it
            zip_delete(public_id=public_id)
            return "none"
    except Exception as error:
        part.unlink(missing_ok=True)
        _write_state(public_id, worker=me, rows=0, error=f"Could not build the ZIP: {error}"[:500])
        raise
    _state_path(public_id).unlink(missing_ok=True)
    return "ready"


def zip_delete(*, public_id: str) -> None:
    """Remove the archive, its state and any partial build (the batch was deleted)."""
    for path in _export_dir().glob(f"{public_id}.*"):
        path.unlink(missing_ok=True)
