"""Batch workflows: create (from a file, a paste or an API list), run chunk by chunk, cancel.

A batch's work is a list of chunks (BatchChunk), each under a lease of its own, so any worker
(a process or a host sharing the database and the queue) takes any free chunk. Chunks are taken,
renewed and marked done by conditional single-document updates (no transaction is relied on:
MongoDB); a dead worker's chunk is taken over when its lease ends, at once on the same host.
A row chunk is idempotent: its rows are parsed, matched to stored predictions, the rest
predicted in one call and stored, and the batch's counts set from its done chunks. New molecules
are stored with their RDKit profile pending; the profile chunk (worker/profiles.py) fills them
and marks the batch done. A run may stop between chunks to let other work go first (`pause`,
batches/tasks.py). README "Batches" tells the design and its measurements.
"""

from __future__ import annotations

import csv
import ctypes
import io
import json
import logging
import re
import time
import uuid
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, reset_queries
from django.db.models import Q
from django.utils import timezone

from batches.models import Batch, BatchChunk, BatchRow
from batches.worker import holders, profiles
from chemcore.model import Model
from molfiles.parsing import (
    BatchRefused,
    InputRow,
    Layout,
    inspect_file,
    iter_rows,
    mib,
    public_message,
    too_large_message,
)
from predictions import services as core
from predictions.forms import molecule_lines
from predictions.models import Prediction, Source
from predictions.serving import get_model, model_loaded

log = logging.getLogger(__name__)
# What `batch_run` returns when it stopped between chunks to let other work go first.
PAUSED = "paused"
# Copied from each row's prediction, so a batch's results are searched without a join.
SEARCH_FIELDS = ("morgan_fp", "morgan_bits", "pattern_fp")
# How long a chunk waits for its helpers' profiles after the model, as a share of the model's
# time (the profiles arriving later are stored by `profiles.Ahead` as they come).
EARLY_WAIT = 0.25


def _upload_dir() -> Path:
    directory = Path(settings.BATCH_UPLOAD_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _store(blocks, suffix: str) -> Path:
    """The batch's input file, which any worker reads its chunks from."""
    path = _upload_dir() / f"{uuid.uuid4().hex}{suffix}"
    with path.open("wb") as out:
        for block in blocks:
            out.write(block)
    return path


def layout_of(batch: Batch) -> Layout:
    return Layout(
        batch.file_format,
        batch.total_rows,
        batch.has_header,
        batch.smiles_column,
        batch.id_column,
        list(batch.columns),
    )


def carried_bytes(layout: Layout, file_size: int) -> int:
    """About what a batch's rows store for the columns / SD fields they carry (BatchRow.extra):
    every row keeps every carried column by name (JSON: name, quotes, separators), and the
    values are at most the file's own bytes. 0 when nothing is carried."""
    if not layout.columns:
        return 0
    per_row = sum(len(json.dumps(name)) + 6 for name in layout.columns) + 2
    return layout.total_rows * per_row + file_size


def _check_storage(layout: Layout, size: int) -> None:
    """Refuse a batch whose carried columns would take more than BATCH_MAX_CARRIED_BYTES."""
    limit = settings.BATCH_MAX_CARRIED_BYTES
    carried = carried_bytes(layout, size)
    if limit and carried > limit:
        what = "SD fields" if layout.file_format == "sdf" else "other columns"
        raise BatchRefused(
            f"This file's {len(layout.columns):,} {what} over {layout.total_rows:,} rows would "
            f"take about {mib(carried)} to store beside the results; the limit is {mib(limit)}. "
            f"Keep only the {what} you need, or split the file."
        )


def batch_create(
    *,
    upload: UploadedFile | None = None,
    text: str = "",
    filename: str = "",
    smiles_column: str = "",
    id_column: str = "",
    owner_key: str = "",
) -> Batch:
    """Validate an upload, or text in memory (a paste, an API list: `filename` names its
    format, else it is sniffed), and store it as a queued batch; raises BatchRefused.

    An upload is streamed to disk and checked there; text is checked in memory and written
    only once it passes. `owner_key` (batches/owners.py) is who may see it; queueing the work
    is the caller's job (tasks.enqueue_batch, once the batch is committed).
    """
    if upload is None and not text.strip():
        raise BatchRefused("Choose a file or paste some SMILES.")
    data = text.encode("utf-8") if upload is None else b""
    size = upload.size if upload is not None else len(data)
    if size > settings.BATCH_MAX_UPLOAD_BYTES:
        raise BatchRefused(too_large_message(size, settings.BATCH_MAX_UPLOAD_BYTES))
    name = Path(upload.name).name if upload is not None else filename
    checks = {
        "filename": name,
        "smiles_column": smiles_column,
        "id_column": id_column,
        "max_rows": settings.BATCH_MAX_ROWS,
        "max_columns": settings.BATCH_MAX_COLUMNS,
    }
    suffix = Path(name).suffix.lower()[:8]
    if upload is None:
        layout = inspect_file(data, **checks)
        _check_storage(layout, size)
        path = _store([data], suffix)
    else:
        path = _store(upload.chunks(), suffix)
        try:
            layout = inspect_file(path, **checks)
            _check_storage(layout, size)
        except BatchRefused:
            path.unlink(missing_ok=True)
            raise
    model = get_model()
    return Batch.objects.create(
        owner_key=owner_key,
        filename=(name or "pasted.txt")[:255],
        input_path=str(path),
        file_format=layout.file_format,
        smiles_column=layout.smiles_column,
        id_column=layout.id_column,
        columns=layout.columns,
        has_header=layout.has_header,
        total_rows=layout.total_rows,
        output_specs=[{"label": o.label, "unit": o.unit} for o in model.outputs],
        model_hash=model.weights_hash,
    )


def batch_cancel(*, batch: Batch) -> bool:
    """Stop a batch at its next chunk boundary; rows done so far stay."""
    changed = (
        Batch.objects.active()
        .filter(pk=batch.pk)
        .update(status=Batch.Status.CANCELLED, finished_at=timezone.now(), lease_until=None)
    )
    return bool(changed)


def _claim(batch_pk, owner: str, handoff: str = "") -> bool:
    """Take the batch's own lease (to start it: `_start`) if it is free, expired, ours, handed
    to us (`handoff`, the token a paused run left), or held by a process that is gone.

    One conditional single-document update: of two workers that both see a dead holder,
    only the first replaces its name.
    """
    now = timezone.now()
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=now) | Q(lease_owner=owner)
    if handoff:
        free |= Q(lease_owner=handoff)
    holder = Batch.objects.filter(pk=batch_pk).values_list("lease_owner", flat=True).first()
    if holder and holders.is_gone(holder):  # killed and restarted: no need to wait out the lease
        free |= Q(lease_owner=holder)
    return bool(
        Batch.objects.active()
        .filter(pk=batch_pk)
        .filter(free)
        .update(
            lease_owner=owner,
            lease_until=now + timedelta(seconds=settings.BATCH_LEASE_SECONDS),
            status=Batch.Status.RUNNING,
        )
    )


def _store_new(
    model: Model, parsed: dict, results: list, profiled: dict | None = None
) -> dict[str, Prediction]:
    """Store predictions for new molecules, with the profiles in `profiled` ({canonical
    SMILES: profile}; the others stay pending); another worker's copy wins a race."""
    objects = [
        core.build_prediction(
            parsed=p,
            model=model,
            result=r,
            draw=False,
            profiled=False,  # from the helpers (worker/profiles.py), or filled after
            source=Source.BATCH,
        )
        for p, r in zip(parsed.values(), results)
    ]
    for obj in objects:
        if profiled and obj.canonical_smiles in profiled:
            obj.profile, obj.profile_pending = profiled[obj.canonical_smiles], False
    try:
        Prediction.objects.bulk_create(objects)
        if any(o.pk is None for o in objects):  # a backend that returns no ids from bulk inserts
            return _existing(model, list(parsed))
        return {o.canonical_smiles: o for o in objects}
    except IntegrityError:
        stored = _existing(model, list(parsed))
        for obj in objects:
            if obj.canonical_smiles not in stored:
                try:
                    obj.save()
                    stored[obj.canonical_smiles] = obj
                except IntegrityError:
                    stored.update(_existing(model, [obj.canonical_smiles]))
        return stored


def _existing(model: Model, smiles: list[str]) -> dict[str, Prediction]:
    found = Prediction.objects.filter(model_hash=model.weights_hash, canonical_smiles__in=smiles)
    fields = (
        "pk",
        "public_id",
        "canonical_smiles",
        "outputs",
        "domain",
        "verdict",
        "profile",
        "profile_pending",
        *SEARCH_FIELDS,
    )
    return {p.canonical_smiles: p for p in found.only(*fields)}


def process_chunk(
    *, batch: Batch, rows: list[InputRow], model: Model, progress=None, ahead=None
) -> tuple[int, int, int]:
    """Predict and store one chunk of rows; returns (done, failed, newly predicted).

    `progress(rows)`, if given, hears after each forward pass about how many of the chunk's
    rows are as good as done (in proportion to the new molecules predicted). `ahead`
    (worker/profiles.Ahead), if given, profiles the new molecules in its helpers while the
    model predicts them; those that arrive in time are stored with their predictions.
    """
    parsed, errors, canonical = {}, {}, {}
    for row in rows:
        if row.error or not row.smiles:
            errors[row.row_number] = row.error or "No SMILES in this row."
            continue
        try:
            molecule = core.parse_for_model(row.smiles, model)
        except core.PredictionRefused as refusal:
            errors[row.row_number] = str(refusal)
            continue
        canonical[row.row_number] = molecule.canonical_smiles
        parsed.setdefault(molecule.canonical_smiles, molecule)
    stored = _existing(model, list(parsed))
    new = {smiles: p for smiles, p in parsed.items() if smiles not in stored}
    if new:

        def predicted(count: int) -> None:
            if progress is not None:
                progress(len(rows) * count // len(new))

        early = ahead.early(list(new), model) if ahead is not None else None
        started = time.monotonic()
        results = model.run(
            list(new.values()),
            batch_size=settings.BATCH_INFERENCE_SIZE,
            progress=predicted,
            features=early.descriptors if early is not None and early.rows else None,
        )
        # The helpers need about half the model's time; a late piece is not waited for long.
        profiled = early.take(EARLY_WAIT * (time.monotonic() - started)) if early else None
        stored.update(_store_new(model, new, results, profiled))
        if early is not None:
            ahead.adopt(early, stored)
    records = []
    for row in rows:
        prediction = stored.get(canonical.get(row.row_number))
        records.append(
            BatchRow(
                batch_id=batch.pk,
                row_number=row.row_number,
                input_id=row.input_id[:500],
                input_smiles=row.smiles,
                extra=row.extra,
                status=BatchRow.Status.OK if prediction else BatchRow.Status.ERROR,
                error=errors.get(row.row_number, ""),
                prediction_id=prediction.pk if prediction else None,
                prediction_public_id=prediction.public_id if prediction else "",
                canonical_smiles=prediction.canonical_smiles if prediction else "",
                outputs=prediction.outputs if prediction else [],
                domain=prediction.domain if prediction else {},
                verdict=prediction.verdict if prediction else "",
                profile=prediction.profile if prediction else {},
                profile_pending=prediction.profile_pending if prediction else False,
                **{
                    name: getattr(prediction, name) if prediction else None
                    for name in SEARCH_FIELDS
                },
            )
        )
    # A worker killed after writing some of this chunk left rows behind: replace them.
    BatchRow.objects.filter(
        batch_id=batch.pk, row_number__gte=rows[0].row_number, row_number__lte=rows[-1].row_number
    ).delete()
    BatchRow.objects.bulk_create(records)
    return len(rows) - len(errors), len(errors), len(new)


def _release_memory() -> None:
    """Give freed heap back to the OS after a chunk.

    Inference allocates differently-sized activation buffers per batch; glibc keeps the
    freed pieces, so a worker's RSS creeps up chunk after chunk (measured +115 MB over
    10,000 rows) unless trimmed. No-op where glibc is absent.
    """
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _chunks(batch: Batch, size: int):
    chunk: list[InputRow] = []
    for row in iter_rows(Path(batch.input_path), layout_of(batch), start=batch.rows_processed):
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def batch_run(*, batch_pk, handoff: str = "", pause=None, recruit=None) -> str:
    """Work on a batch, chunk after chunk, while there is a chunk to take; returns the batch's
    status after.

    An active status (queued/running) back means other workers hold what is left (or an older
    worker holds the whole batch): try again once their leases may have run out. With `pause`,
    called after each stored chunk: a token it returns stops the run there, the next chunk
    reserved for that token, and PAUSED comes back (queue a run with `handoff=token`).
    `recruit(n)`, called once when this run starts the batch (its first run, or the first after
    every worker on it died), is to queue n more runs, so that n more workers join in
    (settings.BATCH_PARALLEL_TASKS). The uploaded file is deleted once the batch is done or
    cancelled (its rows are stored); a failed batch keeps it so that it can be looked at or run
    again.
    """
    status = _run(batch_pk, handoff, pause, recruit)
    if status in (Batch.Status.DONE, Batch.Status.CANCELLED):
        path = Batch.objects.values_list("input_path", flat=True).get(pk=batch_pk)
        Path(path).unlink(missing_ok=True)
    return status


def _status(batch_pk) -> Batch.Status:
    return Batch.Status(Batch.objects.values_list("status", flat=True).get(pk=batch_pk))


def _running(batch_pk) -> bool:
    return Batch.objects.filter(pk=batch_pk, status=Batch.Status.RUNNING).exists()


def _until():
    return timezone.now() + timedelta(seconds=settings.BATCH_LEASE_SECONDS)


def _ensure_chunks(batch: Batch) -> None:
    """Make the batch's chunks, once: BATCH_CHUNK_ROWS rows each, then the profile pass of
    each row chunk's range (so that the profile pass too is shared by the workers).

    Only the run that holds the batch's own lease (`_claim`) makes them, and other runs join
    only once the profile chunk of the first rows (made last, in the same insert) exists; a
    start killed half-way left chunks nobody has worked, which are made again. A batch begun by
    a worker of before chunks has its first `rows_processed` rows stored: they become one chunk,
    done, with the batch's counts, and the rest is chunked after them.
    """
    chunks = BatchChunk.objects.filter(batch_id=batch.pk)
    if chunks.filter(_MADE).exists():
        return
    chunks.delete()
    plan: list[BatchChunk] = []
    base = min(batch.rows_processed, batch.total_rows)
    if base:
        plan.append(
            BatchChunk(
                batch_id=batch.pk,
                index=0,
                first_row=1,
                last_row=base,
                status=BatchChunk.Status.DONE,
                rows_done=base,
                done_count=batch.done_count,
                failed_count=batch.failed_count,
                predicted_count=batch.predicted_count,
            )
        )
    size = settings.BATCH_CHUNK_ROWS
    for first in range(base + 1, batch.total_rows + 1, size):
        last = min(first + size - 1, batch.total_rows)
        plan.append(BatchChunk(batch_id=batch.pk, index=len(plan), first_row=first, last_row=last))
    ranges = [(c.first_row, c.last_row) for c in plan] or [(1, 0)]  # no rows: the whole batch
    for first, last in reversed(ranges):  # the first rows' last: `_MADE`
        plan.append(
            BatchChunk(
                batch_id=batch.pk,
                index=len(plan),
                kind=BatchChunk.Kind.PROFILES,
                first_row=first,
                last_row=last,
            )
        )
    BatchChunk.objects.bulk_create(plan)


# The chunk made last when a batch starts: once it exists, all of them do.
_MADE = Q(kind=BatchChunk.Kind.PROFILES, first_row=1)


def _claim_chunk(batch_pk, owner: str, handoff: str = "") -> BatchChunk | None:
    """Take the first chunk not done that is free: never leased, lease run out, ours, reserved
    for us (`handoff`), or held by a process of this host that is gone; the chunk reserved for
    `handoff` first, then row chunks in row order, then profile chunks, each only once the
    rows of its range are stored.

    Each take is one conditional single-document update on the chunk's lease as it was read:
    of two workers that both saw it free, only the first gets it; the other tries the next.
    """
    now = timezone.now()
    open_chunks = list(
        BatchChunk.objects.filter(batch_id=batch_pk)
        .exclude(status=BatchChunk.Status.DONE)
        .order_by("index")
        .values_list("pk", "kind", "status", "lease_owner", "lease_until", "first_row")
    )
    rows_left = {first for _, kind, *_, first in open_chunks if kind == BatchChunk.Kind.ROWS}
    gone: dict[str, bool] = {}

    def free(holder: str, until) -> bool:
        if until is None or until < now or holder == owner or (handoff and holder == handoff):
            return True
        if holder not in gone:
            gone[holder] = holders.is_gone(holder)
        return gone[holder]

    def waits(kind: str, first: int) -> bool:  # a profile chunk whose rows are not all stored
        whole = first == 0  # (the whole batch)
        return kind == BatchChunk.Kind.PROFILES and (first in rows_left or (whole and rows_left))

    candidates = [
        (pk, kind, status, holder, until, first)
        for pk, kind, status, holder, until, first in open_chunks
        if free(holder, until) and not waits(kind, first)
    ]
    # The reserved chunk, then rows, then profiles, each in row order.
    candidates.sort(key=lambda c: (not (handoff and c[3] == handoff), c[1] != "rows", c[5]))
    for pk, _, status, holder, until, _ in candidates:
        taken = BatchChunk.objects.filter(
            pk=pk, status=status, lease_owner=holder, lease_until=until
        ).update(
            status=BatchChunk.Status.RUNNING, lease_owner=owner, lease_until=_until(), rows_done=0
        )
        if taken:
            return BatchChunk.objects.get(pk=pk)
    return None


def _beat(batch_pk, owner: str) -> bool:
    """The batch's own lease says a live worker is on it (resume leaves it alone): the last
    worker to take or renew a chunk holds it. False once the batch is no longer running."""
    return bool(
        Batch.objects.filter(pk=batch_pk, status=Batch.Status.RUNNING).update(
            lease_owner=owner, lease_until=_until()
        )
    )


def _renew(chunk: BatchChunk, owner: str) -> bool:
    """Extend our chunk's lease (and the batch's); False once cancelled or taken over."""
    mine = BatchChunk.objects.filter(
        pk=chunk.pk, lease_owner=owner, status=BatchChunk.Status.RUNNING
    ).update(lease_until=_until())
    return bool(mine) and _beat(chunk.batch_id, owner)


def _tally(batch_pk) -> None:
    """The batch's counts as the sums over its stored row chunks, and the page's row count with
    the rows predicted inside chunks under way. Written only forwards (a conditional update),
    so a worker with an older tally never moves them back."""
    processed = progress = done = failed = new = 0
    chunks = BatchChunk.objects.filter(batch_id=batch_pk, kind=BatchChunk.Kind.ROWS)
    fields = ("status", "first_row", "last_row", "rows_done", "done_count", "failed_count")
    for status, first, last, rows_done, ok, bad, predicted in chunks.values_list(
        *fields, "predicted_count"
    ):
        if status == BatchChunk.Status.DONE:
            processed += last - first + 1
            done, failed, new = done + ok, failed + bad, new + predicted
            progress += last - first + 1
        elif status == BatchChunk.Status.RUNNING:
            progress += rows_done
    Batch.objects.filter(pk=batch_pk, rows_processed__lte=processed).update(
        rows_processed=processed, done_count=done, failed_count=failed, predicted_count=new
    )
    Batch.objects.filter(pk=batch_pk, progress_rows__lt=progress).update(progress_rows=progress)


def _chunk_rows(batch: Batch, chunk: BatchChunk) -> list[InputRow]:
    rows: list[InputRow] = []
    for row in iter_rows(Path(batch.input_path), layout_of(batch), start=chunk.first_row - 1):
        if row.row_number > chunk.last_row:
            break
        rows.append(row)
    return rows


def _store_rows(batch: Batch, chunk: BatchChunk, owner: str, model: Model, ahead=None) -> bool:
    """Predict and store one row chunk; True if it was still ours when stored (a worker whose
    lease ran out while it worked stores the same rows, which replace each other, and only
    the holder marks the chunk done)."""
    rows = _chunk_rows(batch, chunk)
    if not rows:  # the file holds fewer rows than counted at upload
        raise RuntimeError(f"Rows {chunk.first_row}-{chunk.last_row} are missing from the file.")

    def progress(rows_done: int) -> None:  # the page's count, inside a chunk
        BatchChunk.objects.filter(pk=chunk.pk, lease_owner=owner).update(
            rows_done=rows_done, lease_until=_until()
        )
        _tally(batch.pk)

    try:
        done, failed, new = process_chunk(
            batch=batch, rows=rows, model=model, progress=progress, ahead=ahead
        )
    except IntegrityError:  # another worker's copy of these rows landed between our two writes
        done, failed, new = process_chunk(batch=batch, rows=rows, model=model)
    # The chunk is stored: mark it done even if the batch was cancelled meanwhile.
    stored = BatchChunk.objects.filter(
        pk=chunk.pk, lease_owner=owner, status=BatchChunk.Status.RUNNING
    ).update(
        status=BatchChunk.Status.DONE,
        rows_done=len(rows),
        done_count=done,
        failed_count=failed,
        predicted_count=new,
        lease_until=None,
        done_by=owner,
    )
    _tally(batch.pk)
    return bool(stored)


def _rows_left(batch_pk) -> bool:
    chunks = BatchChunk.objects.filter(batch_id=batch_pk, kind=BatchChunk.Kind.ROWS)
    return chunks.exclude(status=BatchChunk.Status.DONE).exists()


def _finish(batch_pk) -> str:
    """Mark the batch done once every chunk is (idempotent: also after a worker killed between
    storing the last chunk and this update); returns its status."""
    chunks = BatchChunk.objects.filter(batch_id=batch_pk)
    if chunks.exists() and not chunks.exclude(status=BatchChunk.Status.DONE).exists():
        _tally(batch_pk)
        Batch.objects.filter(pk=batch_pk, status=Batch.Status.RUNNING).update(
            status=Batch.Status.DONE, stage="", finished_at=timezone.now(), lease_until=None
        )
    return _status(batch_pk)


def _start(batch_pk, owner: str, handoff: str, recruit) -> bool:
    """Start (or join) the batch; False when there is nothing for this run to do yet.

    The run that takes the batch's own lease (its first run, a run whose worker was the last on
    it, or the first after every worker on it died) makes the chunks and, unless it came back
    from a hand-off, asks for helpers; any other run joins when the chunks exist.
    """
    if _claim(batch_pk, owner, handoff):
        batch = Batch.objects.get(pk=batch_pk)
        _ensure_chunks(batch)
        if batch.started_at is None:
            Batch.objects.filter(pk=batch_pk, started_at=None).update(started_at=timezone.now())
        if recruit is not None and not handoff:
            free = BatchChunk.objects.filter(
                batch_id=batch_pk, kind=BatchChunk.Kind.ROWS, status=BatchChunk.Status.PENDING
            ).count()
            helpers = min(settings.BATCH_PARALLEL_TASKS - 1, free - 1)
            if helpers > 0:
                recruit(helpers)
        return True
    return _running(batch_pk) and BatchChunk.objects.filter(_MADE, batch_id=batch_pk).exists()


def _run(batch_pk, handoff: str = "", pause=None, recruit=None) -> str:
    owner = holders.lease_id()
    if not _start(batch_pk, owner, handoff, recruit):
        return _status(batch_pk)  # finished, or held whole by another worker
    batch = Batch.objects.get(pk=batch_pk)
    if not model_loaded():  # seconds: let the page say so
        Batch.objects.active().filter(pk=batch_pk).update(stage=Batch.Stage.LOADING)
    model = get_model()  # with the domain's training fingerprints, once per process
    Batch.objects.filter(pk=batch_pk, stage=Batch.Stage.LOADING).update(stage="")

    ahead = profiles.Ahead(batch_pk)  # profiles of stored chunks, computed beside the worker
    try:
        while True:
            reset_queries()  # DEBUG keeps every query (with its data) per connection
            chunk = _claim_chunk(batch_pk, owner, handoff)
            if chunk is None:
                if ahead.sent and _running(batch_pk):  # ours to store before we go
                    ahead.finish(lambda left: _running(batch_pk))
                    continue  # the profile pass may be free now
                break
            if not _beat(batch_pk, owner):  # cancelled (or failed) meanwhile: leave it
                BatchChunk.objects.filter(pk=chunk.pk, lease_owner=owner).update(
                    status=BatchChunk.Status.PENDING, lease_owner="", lease_until=None
                )
                break
            if chunk.kind == BatchChunk.Kind.PROFILES:
                filled = _fill_profiles(chunk, owner, ahead, pause)
                if isinstance(filled, str):  # paused between two pages of profiles
                    return _hand_off(batch_pk, owner, filled, chunk)
                if filled:
                    BatchChunk.objects.filter(pk=chunk.pk, lease_owner=owner).update(
                        status=BatchChunk.Status.DONE, lease_until=None, done_by=owner
                    )
            else:
                _store_rows(batch, chunk, owner, model, ahead)
                _release_memory()
                if not _running(batch_pk):  # cancelled
                    break
                ahead.send(chunk.first_row, chunk.last_row)
                ahead.store_arrived()
            if chunk.kind == BatchChunk.Kind.ROWS:
                more = _rows_left(batch_pk)
            else:  # as between two pages of one profile pass
                more = profiles.pending_rows(batch_pk) > 0
            if more and pause is not None and (token := pause()):
                return _hand_off(batch_pk, owner, token)
    except Exception as error:  # a bug or a vanished file: say so on the page, keep the rows
        log.exception("Batch %s failed", batch_pk)
        Batch.objects.active().filter(pk=batch_pk).update(
            status=Batch.Status.FAILED,
            error=public_message(str(error))[:2000],  # never a server path on the page
            finished_at=timezone.now(),
        )
        return _status(batch_pk)
    finally:
        ahead.drop()  # stopped early: the helpers need not finish this batch's pieces
    return _finish(batch_pk)


def _hand_off(batch_pk, owner: str, token: str, chunk: BatchChunk | None = None) -> str:
    """Stop between chunks: the next row chunk (or, in the profile pass, its chunk) is reserved
    for `token` for a lease's length, to be claimed by the run queued under it (after that,
    like any run-out lease, by whoever comes); the batch's own lease goes to the token too."""
    if chunk is not None:
        BatchChunk.objects.filter(pk=chunk.pk, lease_owner=owner).update(
            lease_owner=token, lease_until=_until()
        )
    else:
        _claim_chunk(batch_pk, token)
    handed = Batch.objects.filter(pk=batch_pk, status=Batch.Status.RUNNING).update(
        lease_owner=token, lease_until=_until()
    )
    return PAUSED if handed else _status(batch_pk)


def _fill_profiles(chunk: BatchChunk, owner: str, ahead: profiles.Ahead, pause=None) -> bool | str:
    """A profile chunk: the RDKit profiles of its rows still pending (worker/profiles.py: those the
    helpers computed, then the rest), the page counting the batch's; False if the batch was
    cancelled or the chunk taken over meanwhile, or the token `pause()` gave when it said to stop
    between pages. The page says "profiling" once every row of the batch is stored."""
    batch_pk = chunk.batch_id
    page = Batch.objects.filter(pk=batch_pk)
    rows = (chunk.first_row, chunk.last_row) if chunk.last_row else None
    paused: list[str] = []

    def counted() -> None:  # once every row is stored: the batch's predicted rows with profiles
        if _rows_left(batch_pk):
            return
        ok = BatchRow.objects.filter(batch_id=batch_pk, status=BatchRow.Status.OK)
        profiled = ok.filter(profile_pending=False).count()
        page.update(stage=Batch.Stage.PROFILING, profiled_rows=profiled)

    if profiles.pending_rows(batch_pk, rows=rows):
        counted()

        def carry_on(left: int) -> bool:
            counted()
            if not _renew(chunk, owner):
                return False
            if left and pause is not None and (token := pause()):
                paused.append(token)
                return False
            return True

        filled = ahead.finish(carry_on) and profiles.fill_batch(
            batch_pk, carry_on=carry_on, rows=rows
        )
        if not filled:
            return paused[0] if paused else False
    counted()
    return True


ZIP_PICTURES = ("molecule_png", "plot_png")
DRAW_PIECE_ROWS = 100


def batch_draw_pictures(*, batch_pk, after_row: int = 0, pause=None, progress=None) -> int:
    """Draw the pictures results.zip packs (each predicted row's molecule and plot PNG) that are
    not drawn yet, in row order after `after_row`, DRAW_PIECE_ROWS rows a piece, and keep them
    on the predictions. Returns 0 once all are drawn, or the last row done when `pause()` (asked
    after each piece) said to stop. `progress(row)` hears the last row done after each piece.

    The ZIP task (batches/tasks.py) draws first, in slices like a batch's, so a large ZIP
    takes turns with other visitors' work; packing the drawn pictures is then quick.
    """
    fields = ("pk", "public_id", "canonical_smiles", "outputs", "model_hash", *ZIP_PICTURES)
    last = after_row
    while True:
        reset_queries()
        piece = list(
            BatchRow.objects.filter(batch_id=batch_pk, row_number__gt=last)
            .exclude(prediction_id=None)
            .order_by("row_number")
            .values_list("row_number", "prediction_id")[:DRAW_PIECE_ROWS]
        )
        if not piece:
            return 0
        ids = list({prediction_id for _, prediction_id in piece})
        for prediction in Prediction.objects.filter(pk__in=ids).only(*fields):
            core.prediction_ensure_blobs(prediction=prediction, fields=ZIP_PICTURES)
        last = piece[-1][0]
        if progress is not None:
            progress(last)
        if len(piece) < DRAW_PIECE_ROWS:
            return 0
        if pause is not None and pause():
            return last


def batch_create_any(
    *,
    upload: UploadedFile | None = None,
    smiles: list[str] | None = None,
    ids: list[str] | None = None,
    smiles_column: str = "",
    id_column: str = "",
    owner_key: str = "",
) -> Batch:
    """`batch_create` from a file or from a list of SMILES (and IDs), as the API receives them.

    A list becomes CSV text with `smiles` (and `id`) columns, checked in memory by the same
    strict parsing and limits as an uploaded file, and worked the same way.
    """
    if upload is not None:
        return batch_create(
            upload=upload, smiles_column=smiles_column, id_column=id_column, owner_key=owner_key
        )
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["smiles", "id"] if ids else ["smiles"])
    for index, text in enumerate(smiles or []):
        writer.writerow([text, ids[index]] if ids else [text])
    return batch_create(
        text=buffer.getvalue(),
        filename="molecules.csv",
        smiles_column="smiles",
        id_column="id" if ids else "",
        owner_key=owner_key,
    )


_SEPARATOR = re.compile(r"\s*,\s*|\s+")


def _smi_line(line: str) -> str:
    """`SMILES name` from `SMILES,name`, `SMILES<TAB>name` or `SMILES name`."""
    parts = _SEPARATOR.split(line, maxsplit=1)
    return " ".join(part.replace("\t", " ").strip() for part in parts if part.strip())


def batch_from_paste(*, text: str, owner_key: str) -> Batch:
    """A list pasted into the home page's SMILES box, stored as a queued batch; raises
    BatchRefused.

    Each line is a SMILES, optionally followed by a name after whitespace or a comma (a SMILES
    holds neither), as copied from a spreadsheet column or two. The lines are read as a `.smi`
    file (in memory), so the upload's checks and limits apply unchanged; bad lines become bad
    rows.
    """
    data = "\n".join(_smi_line(line) for line in molecule_lines(text)) + "\n"
    return batch_create(text=data, filename="pasted.smi", owner_key=owner_key)
