"""A batch's files as HTTP responses, for the pages and the API alike.

CSV and SDF are streamed from the rows; the ZIP is served only as the file the worker
finished (predictions/batch/archive.py), with its Content-Length, so a broken transfer
cannot look complete.
"""

from __future__ import annotations

from django.http import FileResponse, HttpResponseBase, StreamingHttpResponse
from django.utils.http import content_disposition_header
from django.utils.text import slugify

from predictions.models import Batch

from . import archive, exports

NAMES = (*exports.DOWNLOADS, archive.ZIP_NAME)


def attachment_name(batch: Batch, filename: str) -> str:
    stem = slugify(batch.filename.rsplit(".", 1)[0])[:60] or "batch"
    return f"{stem}-{batch.public_id}-{filename}"


def download_response(
    batch: Batch, filename: str, *, full: bool = False
) -> HttpResponseBase | None:
    """The file named `filename` (one of NAMES); None while the ZIP is not built.

    `full`: the full-precision variant where there is one (results.csv; `?precision=full`).
    """
    if filename == archive.ZIP_NAME:
        path = archive.zip_file(batch=batch)
        if path is None:
            return None
        return FileResponse(
            path.open("rb"),
            as_attachment=True,
            filename=attachment_name(batch, filename),
            content_type="application/zip",
        )
    download = exports.DOWNLOADS[filename]
    build = (full and download.full) or download.build
    response = StreamingHttpResponse(build(batch), content_type=download.content_type)
    response["Content-Disposition"] = content_disposition_header(
        True, attachment_name(batch, filename)
    )
    return response
