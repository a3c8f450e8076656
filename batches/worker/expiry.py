"""Expiry (issue 21 item 7): what batches leave on disk and in the database does not stay forever.

`expire()` deletes, by age (settings, 0 = never):
- finished batches (done, cancelled, failed) BATCH_EXPIRY_DAYS after they finished: their rows,
  and through the post_delete receiver (signals.py) their upload and ZIP; active batches never;
- built `<id>.zip` files BATCH_ZIP_EXPIRY_DAYS after they were built (the page offers to build
  the archive again), with their state file;
- after BATCH_TEMP_EXPIRY_HOURS untouched: `.part` files (a ZIP build or state write killed
  midway), ZIP state files no build is moving, uploads in BATCH_UPLOAD_DIR no batch refers to
  (a request killed between storing the file and the batch), and Django's spooled upload files
  in FILE_UPLOAD_TEMP_DIR (a request killed mid-upload).
A live build or upload writes to its file all the time, so its modification time stays fresh.
Run by `manage.py expire_batches` and hourly by the worker (batches/tasks.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from batches.models import Batch, BatchRow


def _old_files(directory: Path, pattern: str, seconds: float, now: float) -> Iterator[Path]:
    if seconds <= 0 or not directory.is_dir():
        return
    for path in directory.glob(pattern):
        try:
            if path.is_file() and now - path.stat().st_mtime > seconds:
                yield path
        except FileNotFoundError:  # removed meanwhile
            continue


def _remove(paths, dry_run: bool) -> int:
    count = 0
    for path in paths:
        if not dry_run:
            path.unlink(missing_ok=True)
        count += 1
    return count


def expire(*, dry_run: bool = False) -> dict[str, int]:
    """Delete what has expired; returns how many of each kind (counted only, with dry_run)."""
    now, clock = timezone.now(), time.time()
    counts = {"batches": 0, "zips": 0, "partial_files": 0, "uploads": 0, "upload_temp_files": 0}

    if settings.BATCH_EXPIRY_DAYS > 0:
        cutoff = now - timedelta(days=settings.BATCH_EXPIRY_DAYS)
        old = Batch.objects.filter(status__in=Batch.FINISHED).filter(
            Q(finished_at__lt=cutoff) | Q(finished_at__isnull=True, created_at__lt=cutoff)
        )
        for batch in old.only("pk", "public_id", "input_path"):
            counts["batches"] += 1
            if not dry_run:
                BatchRow.objects.filter(batch_id=batch.pk).delete()  # one query, no join
                batch.delete()  # signals.py removes its upload and ZIP files

    exports = Path(settings.BATCH_EXPORT_DIR)
    zip_age = settings.BATCH_ZIP_EXPIRY_DAYS * 86400
    for path in _old_files(exports, "*.zip", zip_age, clock):
        counts["zips"] += 1
        if not dry_run:
            path.unlink(missing_ok=True)
            path.with_suffix(".json").unlink(missing_ok=True)

    temp_age = settings.BATCH_TEMP_EXPIRY_HOURS * 3600
    stale = [*_old_files(exports, "*.part", temp_age, clock)]
    stale += _old_files(exports, "*.json", temp_age, clock)  # a build state nobody moves
    counts["partial_files"] = _remove(stale, dry_run)

    uploads = Path(settings.BATCH_UPLOAD_DIR)
    old_uploads = list(_old_files(uploads, "*", temp_age, clock))
    if old_uploads:
        kept = set(
            Batch.objects.filter(input_path__in=[str(p) for p in old_uploads]).values_list(
                "input_path", flat=True
            )
        )
        counts["uploads"] = _remove([p for p in old_uploads if str(p) not in kept], dry_run)

    spool = getattr(settings, "FILE_UPLOAD_TEMP_DIR", None)
    if spool:
        counts["upload_temp_files"] = _remove(
            _old_files(Path(spool), "*.upload*", temp_age, clock), dry_run
        )
    return counts
