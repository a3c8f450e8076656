"""Huey tasks (djhuey imports `<app>.tasks`): the batch worker, ZIP builds, resume hooks.

Tasks call the batch services; services never enqueue (the upload view does, on commit).
"""

import logging
import secrets
import time
from functools import partial

from django.conf import settings
from django.db import close_old_connections, transaction
from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task, db_task, on_startup

from batches import selectors, services
from batches.files import archive
from batches.models import Batch
from batches.worker import expiry, holders, profiles
from predictions.serving import model_loaded, warm_up

# Under Huey's logger: run_huey gives it a handler (the site configures no logging of its own).
log = logging.getLogger("huey.predictions")


class _Slice:
    """`pause` for batch_run: after BATCH_SLICE_SECONDS of work, if any task waits in the
    queue (another visitor's batch, a ZIP build; not this batch's own runs), a new hand-off
    token; else carry on."""

    def __init__(self, batch_pk: str | None = None) -> None:
        self.started = time.monotonic()
        self.batch_pk = batch_pk
        self.token = ""

    def __call__(self) -> str:
        if time.monotonic() - self.started < settings.BATCH_SLICE_SECONDS:
            return ""
        if not _others_wait(self.batch_pk):  # nobody waits: no need to step aside
            return ""
        self.token = f"queued:{secrets.token_hex(6)}"
        return self.token


# Queued tasks looked at to tell a batch's own runs from other work; more waiting: others.
_LOOK_AT = 50


def _others_wait(batch_pk: str | None) -> bool:
    """Whether a task other than a run of `batch_pk` waits in the queue (any task, without)."""
    waiting = HUEY.pending_count()
    if not waiting or batch_pk is None or waiting > _LOOK_AT:
        return bool(waiting)
    return not all(_runs(task, batch_pk) for task in HUEY.pending(limit=_LOOK_AT))


def _runs(task, batch_pk: str) -> bool:
    """Whether a queued task is a run of this batch."""
    return isinstance(task, run_batch.task_class) and str(task.args[0]) == batch_pk


def enqueue_batch(batch: Batch) -> None:
    """Queue a new batch's run once the transaction that stored it commits (the worker must
    find it): the one way the web side starts a batch (form, paste, API)."""
    transaction.on_commit(partial(run_batch, str(batch.pk)))


@db_task()
def run_batch(batch_pk: str, handoff: str = "") -> str:
    """One slice of a batch: free chunks of it, one after another, until none is left, or until
    others wait and the slice is up; then the rest is queued again behind them
    (services.batch_run, PAUSED), so batches of different visitors take turns and a small one
    never waits for a big one to finish. The run that starts a batch queues
    BATCH_PARALLEL_TASKS - 1 more runs of it: idle workers join in, chunk by chunk."""
    batch_pk = str(batch_pk)
    pause = _Slice(batch_pk)

    def recruit(count: int) -> None:
        for _ in range(count):
            run_batch(batch_pk)

    status = services.batch_run(batch_pk=batch_pk, handoff=handoff, pause=pause, recruit=recruit)
    if status == services.PAUSED:
        run_batch(batch_pk, pause.token)  # at the back of the queue, behind those waiting
        return status
    if status in Batch.ACTIVE:
        # Other workers hold the chunks left; if one died, take its chunk once its lease ends.
        run_batch.schedule((batch_pk,), delay=settings.BATCH_LEASE_SECONDS)
    return status


@db_task()
def build_batch_zip(batch_pk: str, after_row: int = 0) -> str:
    """results.zip of a finished batch, drawn and packed here, never in a web request.

    The pictures (~80 ms each) are drawn first, in slices as a batch runs: when the slice is
    up and other tasks wait, the rest of the drawing is queued again behind them, so a large
    ZIP takes turns with other visitors' batches. Then archive.zip_build packs what is drawn.
    """
    batch = Batch.objects.filter(pk=batch_pk).only("pk", "public_id").first()
    if batch is None:
        return "none"  # deleted meanwhile
    if archive.zip_file(batch=batch):
        return "ready"
    me = holders.worker_id()

    def drawn(row: int) -> None:  # the page shows the build under way (archive's state file)
        archive._write_state(batch.public_id, worker=me, rows=row)

    try:
        paused_at = services.batch_draw_pictures(
            batch_pk=batch_pk, after_row=after_row, pause=_Slice(), progress=drawn
        )
    except Exception as error:  # as archive.zip_build does: the page says so, offers it again
        message = f"Could not build the ZIP: {error}"[:500]
        archive._write_state(batch.public_id, worker=me, rows=0, error=message)
        raise
    if paused_at:
        archive._write_state(batch.public_id, worker="", rows=paused_at)  # queued again
        build_batch_zip(batch_pk, paused_at)
        return "queued"
    return archive.zip_build(batch_pk=batch_pk)


def resume_batches() -> list[str]:
    """Queue again every unfinished batch no live worker holds; leases stop doubles."""
    ids = selectors.batch_ids_to_resume()
    for pk in ids:
        run_batch(pk)
    return ids


@on_startup()
def load_model_on_startup() -> None:
    """Load the model (and the domain's training fingerprints) before taking any work, so a
    new batch never waits for it; batches already queued say "loading the model" meanwhile."""
    if not settings.WORKER_PRELOAD_MODEL or model_loaded():
        return
    try:
        waiting = Batch.objects.filter(status=Batch.Status.QUEUED, stage="")
        marked = list(waiting.values_list("pk", flat=True))
        Batch.objects.filter(pk__in=marked).update(stage=Batch.Stage.LOADING)
        started = time.monotonic()
        warm_up()
        log.info("Model loaded in %.1f s; taking work", time.monotonic() - started)
        Batch.objects.filter(pk__in=marked, stage=Batch.Stage.LOADING).update(stage="")
    finally:
        close_old_connections()


@on_startup()
def resume_batches_on_startup() -> None:
    # A worker killed mid-batch lost its queued task: queue unfinished batches again.
    try:
        resume_batches()
    finally:
        close_old_connections()


@db_periodic_task(crontab(minute="*"))
def resume_stale_batches() -> None:
    resume_batches()


@db_periodic_task(crontab(minute="*"))
def fill_left_over_profiles() -> None:
    """RDKit profiles a batch left pending and will not fill itself (cancelled during its profile
    pass, say): filled while no batch is active (batches/worker/profiles.py)."""
    filled = profiles.fill_left_over()
    if filled:
        log.info("Filled %d pending RDKit profiles", filled)


@db_periodic_task(crontab(minute="7"))
def expire_old_batches() -> None:
    """Hourly: finished batches, ZIPs and temporary files past their expiry (batch/expiry.py)."""
    counts = expiry.expire()
    if any(counts.values()):
        log.info("Expired: %s", counts)
