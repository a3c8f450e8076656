"""A batch's files as HTTP responses, for the pages and the API alike.

CSV and SDF are streamed from the rows; the ZIP is served only as the file the worker
finished (batches/files/archive.py), with its Content-Length, so a broken transfer
cannot look complete. A finished batch's streamed files, and the ZIP, carry an ETag, so a
client that downloads them again gets a 304 instead of the whole file anew.
"""

from __future__ import annotations

from django.http import FileResponse, HttpRequest, HttpResponseBase, StreamingHttpResponse
from django.utils.cache import get_conditional_response, patch_cache_control, quote_etag
from django.utils.http import content_disposition_header
from django.utils.text import slugify

from batches.files import archive, exports
from batches.models import Batch
from chemreport import drugs, rendering, units
from molfiles import tables
from predictions.downloads.cache import code_version, version_tag
from predictions.serving import reference

NAMES = (*exports.DOWNLOADS, archive.ZIP_NAME)


def attachment_name(batch: Batch, filename: str) -> str:
    stem = slugify(batch.filename.rsplit(".", 1)[0])[:60] or "batch"
    return f"{stem}-{batch.public_id}-{filename}"


CODE_VERSION = code_version(exports, reference, drugs, tables, rendering, units)


def etag(batch: Batch, filename: str, *, full: bool = False) -> str | None:
    """The version of a finished batch's streamed file, quoted; None while it can change.

    Once a batch is done its rows, their copied values and profiles are fixed, so the file
    depends only on the batch and its finish, the file and precision, the approved-drug
    reference (percentile columns) and the code. A batch queued, running, cancelled or
    failed may still gain rows or profiles: no ETag then.
    """
    if batch.status != Batch.Status.DONE or batch.finished_at is None:
        return None
    if filename not in exports.DOWNLOADS:
        return None
    tag = version_tag(
        batch.public_id,
        batch.model_hash,
        batch.finished_at.isoformat(),
        batch.done_count,
        batch.failed_count,
        filename,
        full,
        reference.cache_key(),
        CODE_VERSION,
    )
    return quote_etag(tag)


def download_response(
    batch: Batch, filename: str, *, full: bool = False, request: HttpRequest | None = None
) -> HttpResponseBase | None:
    """The file named `filename` (one of NAMES); None while the ZIP is not built.

    `full`: the full-precision variant where there is one (results.csv; `?precision=full`).
    With the `request`, a finished batch's streamed file (and the built ZIP) answers
    conditional requests (If-None-Match: 304, If-Match: 412) before any row is read.
    Batches are private to their owner, so every answer is `Cache-Control: private`,
    revalidated each time.
    """
    if filename == archive.ZIP_NAME:
        path = archive.zip_file(batch=batch)
        if path is None:
            return None
        stat = path.stat()  # the file is only ever replaced whole (archive.py)
        tag = quote_etag(version_tag(batch.public_id, filename, stat.st_size, stat.st_mtime_ns))
        return _conditional(request, tag) or _private(
            FileResponse(
                path.open("rb"),
                as_attachment=True,
                filename=attachment_name(batch, filename),
                content_type="application/zip",
            ),
            tag,
        )
    download = exports.DOWNLOADS[filename]
    tag = etag(batch, filename, full=bool(full and download.full))
    answer = _conditional(request, tag)
    if answer is not None:
        return answer
    build = (full and download.full) or download.build
    response = StreamingHttpResponse(build(batch), content_type=download.content_type)
    response["Content-Disposition"] = content_disposition_header(
        True, attachment_name(batch, filename)
    )
    return _private(response, tag)


def _private(response: HttpResponseBase, tag: str | None) -> HttpResponseBase:
    """A batch is its owner's alone: no shared cache keeps its files; revalidated each time."""
    if tag is not None:
        response["ETag"] = tag
    patch_cache_control(response, private=True, no_cache=True)
    return response


def _conditional(request: HttpRequest | None, tag: str | None) -> HttpResponseBase | None:
    """304 (If-None-Match) or 412 (If-Match) for this version, else None."""
    if tag is None or request is None:
        return None
    answer = get_conditional_response(request, etag=tag)
    return None if answer is None else _private(answer, tag)
