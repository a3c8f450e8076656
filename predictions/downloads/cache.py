"""What versions a prediction's downloads (ETags), and the render cache of those drawn on
request: a report card, scatter or captioned plot is drawn once per version, not per request.

The key names everything the bytes depend on, so a cached file is only ever served for the
version and the link it was drawn for; the view checks the link (and that it is not hidden)
before it looks here.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from django.core.cache import caches
from django.utils import timezone

from chemreport import drugs, rendering, units
from molfiles import tables
from predictions import selectors, services
from predictions.downloads import exports, report
from predictions.models import Prediction
from predictions.serving import reference


def code_version(*modules) -> str:
    """Names the code that draws and writes some downloads: changed code is a new version."""
    digest = hashlib.sha256(b"".join(Path(m.__file__).read_bytes() for m in modules))
    return digest.hexdigest()[:16]


def version_tag(*parts) -> str:
    """A short hash of everything a file depends on (an ETag's value, unquoted)."""
    return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:32]


CODE_VERSION = code_version(exports, report, rendering, reference, drugs, tables, units, selectors)


def etag(version: Prediction, filename: str, *, saved: bool, full: bool) -> str:
    """The download's version, hashed: the prediction's (its random id, weights, last change,
    listing), the file, the reference in use, the day of a captioned download (`saved`), the
    precision (`full`) and the code. Also its key in the render cache."""
    return version_tag(
        version.public_id,
        version.model_hash,
        version.updated_at.isoformat(),
        version.public,
        version.published_at,
        filename,
        reference.cache_key(),
        saved and timezone.now().date(),
        full,
        CODE_VERSION,
    )


def built(public_id: str, filename: str, build) -> tuple[bytes, str]:
    """The file `build` makes of the prediction, as bytes, and its file-name stem. Pictures it
    needs that are not stored are drawn for this answer only: a GET stores nothing."""
    blobs = exports.SERVED[filename].blobs
    prediction = selectors.prediction_get(public_id, blobs=blobs)
    for name, value in services.missing_pictures(prediction, blobs).items():
        setattr(prediction, name, value)
    body = build(prediction)
    return body.encode() if isinstance(body, str) else body, exports.download_stem(prediction)


def rendered(key: str, public_id: str, filename: str, build) -> tuple[bytes, str]:
    """`built`, from the render cache (settings.RENDER_CACHE) under `key`, else built now and
    kept there."""
    renders = caches["renders"]
    found = renders.get(key)
    if found is None:
        found = built(public_id, filename, build)
        renders.set(key, found)
    return found
