"""Huey tasks (djhuey imports `<app>.tasks`): the batch worker and its resume hooks."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, on_startup


@db_task()
def run_batch(batch_pk: str) -> str:
    from django.conf import settings

    from predictions.batch.services import batch_run

    status = batch_run(batch_pk=batch_pk)
    if status == "busy":
        # Another worker holds the lease; if it died, take over once the lease runs out.
        run_batch.schedule((batch_pk,), delay=settings.BATCH_LEASE_SECONDS)
    return status


@on_startup()
def resume_batches_on_startup() -> None:
    # A worker killed mid-batch lost its queued task: queue unfinished batches again.
    # The lease in batch_run stops a batch still held by a live worker running twice.
    from django.db import close_old_connections

    from predictions.batch.services import batches_resume

    try:
        batches_resume()
    finally:
        close_old_connections()


@db_periodic_task(crontab(minute="*"))
def resume_stale_batches() -> None:
    from predictions.batch.services import batches_resume

    batches_resume()
