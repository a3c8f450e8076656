"""Batch workflows: accept an upload, run it chunk by chunk, cancel, resume.

Each chunk is idempotent: its rows are parsed, deduplicated, matched against stored
predictions (same canonical SMILES and weights), the rest predicted in one batched call
and stored; the chunk's BatchRows replace any left by a worker killed mid-chunk; then the
cursor (`rows_processed`) and counts move on together in one update. New molecules are
stored without their RDKit profile, which costs more CPU than the prediction: once every
row is stored, the same worker fills the profiles (profiles.py; stage "profiling") and
only then marks the batch done, so its rows show at the model's speed and a finished
batch's exports and ZIP carry every profile. A lease
(`lease_owner`/`lease_until`) keeps two workers off one batch; a dead worker's lease runs out,
or is taken over at once by a worker on the same host that sees its process is gone.
No transaction is relied on (MongoDB), only single-document conditional updates.

Fairness (issue 21 item 6): a run may stop between two stored chunks when `pause()` says so
(predictions/tasks.py: after BATCH_SLICE_SECONDS, when other work waits in the queue) and
hand the batch over to a token (`lease_owner` = the token): the task queued again under that
token, behind the waiting work, claims it back. So a small batch waits for one slice of a
big one, not for all of it. Exactly-once is unchanged: a hand-off happens only where a
lease renewal would, with the chunk stored and the cursor moved.
"""

from __future__ import annotations

import csv
import ctypes
import io
import json
import logging
import uuid
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile
from django.db import IntegrityError, reset_queries
from django.db.models import Q
from django.utils import timezone

from chemcore.model import Model
from predictions import services as core
from predictions import workers
from predictions.models import Batch, BatchRow, Prediction, Source
from predictions.serving import get_model, model_loaded

from . import profiles
from .parsing import (
    BatchRefused,
    InputRow,
    Layout,
    inspect_file,
    iter_rows,
    mib,
    public_message,
    too_large_message,
)

log = logging.getLogger(__name__)
# What `batch_run` returns when it stopped between chunks to let other work go first.
PAUSED = "paused"
# Copied from each row's prediction, so a batch's results are searched without a join.
SEARCH_FIELDS = ("morgan_fp", "morgan_bits", "pattern_fp")


def _upload_dir() -> Path:
    directory = Path(settings.BATCH_UPLOAD_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _store_upload(*, upload: UploadedFile | None, text: str, filename: str) -> Path:
    suffix = Path(filename).suffix.lower()[:8] if upload is not None else ""
    path = _upload_dir() / f"{uuid.uuid4().hex}{suffix}"
    with path.open("wb") as out:
        if upload is not None:
            for block in upload.chunks():
                out.write(block)
        else:
            out.write(text.encode("utf-8"))
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


def _check_storage(layout: Layout, path: Path) -> None:
    """Refuse a batch whose carried columns would take more than BATCH_MAX_CARRIED_BYTES."""
    limit = settings.BATCH_MAX_CARRIED_BYTES
    carried = carried_bytes(layout, path.stat().st_size)
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
    smiles_column: str = "",
    id_column: str = "",
    owner_key: str = "",
) -> Batch:
    """Validate an upload or pasted text and store it as a queued batch; raises BatchRefused.

    `owner_key` (predictions/owners.py) is who may see it; queueing the work is the
    caller's job (the view, once the batch is committed).
    """
    if upload is None and not text.strip():
        raise BatchRefused("Choose a file or paste some SMILES.")
    if upload is not None and upload.size > settings.BATCH_MAX_UPLOAD_BYTES:
        raise BatchRefused(too_large_message(upload.size, settings.BATCH_MAX_UPLOAD_BYTES))
    filename = Path(upload.name).name if upload is not None else "pasted.txt"
    path = _store_upload(upload=upload, text=text, filename=filename if upload else "")
    try:
        layout = inspect_file(
            path,
            filename=filename if upload else "",
            smiles_column=smiles_column,
            id_column=id_column,
            max_rows=settings.BATCH_MAX_ROWS,
            max_columns=settings.BATCH_MAX_COLUMNS,
        )
        _check_storage(layout, path)
    except BatchRefused:
        path.unlink(missing_ok=True)
        raise
    model = get_model()
    batch = Batch.objects.create(
        owner_key=owner_key,
        filename=filename[:255],
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
    return batch


def batch_cancel(*, batch: Batch) -> bool:
    """Stop a batch at its next chunk boundary; rows done so far stay."""
    changed = (
        Batch.objects.active()
        .filter(pk=batch.pk)
        .update(status=Batch.Status.CANCELLED, finished_at=timezone.now(), lease_until=None)
    )
    return bool(changed)


def _claim(batch_pk, owner: str, handoff: str = "") -> bool:
    """Take the lease if it is free, expired, ours, handed to us (`handoff`, the token a
    paused run left), or held by a process that is gone.

    One conditional single-document update: of two workers that both see a dead holder,
    only the first replaces its name.
    """
    now = timezone.now()
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=now) | Q(lease_owner=owner)
    if handoff:
        free |= Q(lease_owner=handoff)
    holder = Batch.objects.filter(pk=batch_pk).values_list("lease_owner", flat=True).first()
    if holder and workers.is_gone(holder):  # killed and restarted: no need to wait out the lease
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


def _store_new(model: Model, parsed: dict, results: list) -> dict[str, Prediction]:
    """Store predictions for new molecules; another worker's copy wins a race."""
    objects = [
        core.build_prediction(
            parsed=p,
            model=model,
            result=r,
            draw=False,
            profiled=False,  # filled after the batch's predictions (profiles.py)
            source=Source.BATCH,
        )
        for p, r in zip(parsed.values(), results)
    ]
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
    *, batch: Batch, rows: list[InputRow], model: Model, progress=None
) -> tuple[int, int, int]:
    """Predict and store one chunk of rows; returns (done, failed, newly predicted).

    `progress(rows)`, if given, hears after each forward pass about how many of the chunk's
    rows are as good as done (in proportion to the new molecules predicted).
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

        results = model.run(
            list(new.values()), batch_size=settings.BATCH_INFERENCE_SIZE, progress=predicted
        )
        stored.update(_store_new(model, new, results))
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


def batch_run(*, batch_pk, handoff: str = "", pause=None) -> str:
    """Work through a batch from its cursor to the end; returns the batch's status after.

    An active status (queued/running) back means another worker holds the batch. With
    `pause`, called after each stored chunk: a token it returns stops the run there, the
    lease handed to that token, and PAUSED comes back (queue a run with `handoff=token`).
    The uploaded file is deleted once the batch is done or cancelled (its rows are stored);
    a failed batch keeps it so that it can be looked at or run again.
    """
    status = _run(batch_pk, handoff, pause)
    if status in (Batch.Status.DONE, Batch.Status.CANCELLED):
        path = Batch.objects.values_list("input_path", flat=True).get(pk=batch_pk)
        Path(path).unlink(missing_ok=True)
    return status


def _status(batch_pk) -> Batch.Status:
    return Batch.Status(Batch.objects.values_list("status", flat=True).get(pk=batch_pk))


def _run(batch_pk, handoff: str = "", pause=None) -> str:
    owner = workers.lease_id()
    if not _claim(batch_pk, owner, handoff):
        return _status(batch_pk)  # finished, or held by another worker
    batch = Batch.objects.get(pk=batch_pk)
    if batch.started_at is None:
        Batch.objects.filter(pk=batch_pk).update(started_at=timezone.now())
    mine = Batch.objects.filter(pk=batch_pk, lease_owner=owner)
    if not model_loaded():  # seconds: let the page say so
        mine.update(stage=Batch.Stage.LOADING)
    model = get_model()  # with the domain's training fingerprints, once per process
    mine.update(stage="")

    def progress(rows_done: int) -> None:  # the page's count, inside a chunk
        mine.update(progress_rows=batch.rows_processed + rows_done)

    ahead = profiles.Ahead(batch_pk)  # profiles of stored chunks, computed beside the worker
    try:
        for rows in _chunks(batch, settings.BATCH_CHUNK_ROWS):
            reset_queries()  # DEBUG keeps every query (with its data) per connection
            done, failed, new = process_chunk(
                batch=batch, rows=rows, model=model, progress=progress
            )
            _release_memory()
            batch.rows_processed = rows[-1].row_number
            batch.done_count += done
            batch.failed_count += failed
            batch.predicted_count += new
            # The chunk is stored: move the cursor even if the batch was cancelled meanwhile.
            moved = mine.update(
                rows_processed=batch.rows_processed,
                progress_rows=batch.rows_processed,
                done_count=batch.done_count,
                failed_count=batch.failed_count,
                predicted_count=batch.predicted_count,
            )
            if not (moved and _renew(batch_pk, owner)):  # cancelled, or lease taken over
                return _status(batch_pk)
            ahead.send(rows[0].row_number, rows[-1].row_number)
            ahead.store_arrived()
            more = batch.rows_processed < batch.total_rows
            if more and pause is not None and (token := pause()):
                return _hand_off(batch_pk, owner, token)
        filled = _fill_profiles(batch_pk, owner, ahead, pause)
        if isinstance(filled, str):  # paused between two pages of profiles
            return _hand_off(batch_pk, owner, filled)
        if not filled:
            return _status(batch_pk)
    except Exception as error:  # a bug or a vanished file: say so on the page, keep the rows
        log.exception("Batch %s failed", batch_pk)
        Batch.objects.filter(pk=batch_pk, lease_owner=owner).update(
            status=Batch.Status.FAILED,
            error=public_message(str(error))[:2000],  # never a server path on the page
            finished_at=timezone.now(),
        )
        return Batch.Status.FAILED
    finally:
        ahead.drop()  # stopped early: the helpers need not finish this batch's pieces
    Batch.objects.filter(pk=batch_pk, lease_owner=owner, status=Batch.Status.RUNNING).update(
        status=Batch.Status.DONE, stage="", finished_at=timezone.now(), lease_until=None
    )
    return _status(batch_pk)


def _hand_off(batch_pk, owner: str, token: str) -> str:
    """Stop between chunks: the lease goes to `token` (a lease's length to be claimed back
    by the run queued under it; after that, like any run-out lease, by whoever comes)."""
    handed = Batch.objects.filter(
        pk=batch_pk, lease_owner=owner, status=Batch.Status.RUNNING
    ).update(
        lease_owner=token,
        lease_until=timezone.now() + timedelta(seconds=settings.BATCH_LEASE_SECONDS),
    )
    return PAUSED if handed else _status(batch_pk)


def _renew(batch_pk, owner: str) -> bool:
    """Extend our lease while the batch still runs; False once cancelled or taken over."""
    return bool(
        Batch.objects.filter(pk=batch_pk, lease_owner=owner, status=Batch.Status.RUNNING).update(
            lease_until=timezone.now() + timedelta(seconds=settings.BATCH_LEASE_SECONDS)
        )
    )


def _fill_profiles(batch_pk, owner: str, ahead: profiles.Ahead, pause=None) -> bool | str:
    """The second pass: every predicted row's RDKit profile (profiles.py: those computed by
    the helpers, then the rest), the page counting them; False if the batch was cancelled or
    taken over meanwhile, or the token `pause()` gave when it said to stop between pages."""
    mine = Batch.objects.filter(pk=batch_pk, lease_owner=owner)
    predicted = BatchRow.objects.filter(batch_id=batch_pk, status=BatchRow.Status.OK).count()
    left = profiles.pending_rows(batch_pk)
    paused: list[str] = []
    if left:
        mine.update(stage=Batch.Stage.PROFILING, profiled_rows=predicted - left)

        def carry_on(left: int) -> bool:
            mine.update(profiled_rows=predicted - left)
            if not _renew(batch_pk, owner):
                return False
            if left and pause is not None and (token := pause()):
                paused.append(token)
                return False
            return True

        if not (ahead.finish(carry_on) and profiles.fill_batch(batch_pk, carry_on=carry_on)):
            return paused[0] if paused else False
    mine.update(profiled_rows=predicted)
    return True


ZIP_PICTURES = ("molecule_png", "plot_png")
DRAW_PIECE_ROWS = 100


def batch_draw_pictures(*, batch_pk, after_row: int = 0, pause=None, progress=None) -> int:
    """Draw the pictures results.zip packs (each predicted row's molecule and plot PNG) that are
    not drawn yet, in row order after `after_row`, DRAW_PIECE_ROWS rows a piece, and keep them
    on the predictions. Returns 0 once all are drawn, or the last row done when `pause()` (asked
    after each piece) said to stop. `progress(row)` hears the last row done after each piece.

    The ZIP task (predictions/tasks.py) draws first, in slices like a batch's, so a large ZIP
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

    A list becomes a CSV with `smiles` (and `id`) columns, so it goes through the same strict
    parsing, limits and worker as an uploaded file.
    """
    if upload is None:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["smiles", "id"] if ids else ["smiles"])
        for index, text in enumerate(smiles or []):
            writer.writerow([text, ids[index]] if ids else [text])
        data = buffer.getvalue().encode("utf-8")
        upload = SimpleUploadedFile("molecules.csv", data, content_type="text/csv")
        smiles_column, id_column = "smiles", "id" if ids else ""
    return batch_create(
        upload=upload, smiles_column=smiles_column, id_column=id_column, owner_key=owner_key
    )
