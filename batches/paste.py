"""A list pasted into the home page's SMILES box: several lines become a batch.

Each line is a SMILES, optionally followed by a name after whitespace or a comma (a SMILES
holds neither), as copied from a spreadsheet column or two. The lines are written as a
`.smi` upload and go through `batch_create`, so the batch upload's checks and limits
(rows, size, header line) apply unchanged; bad lines become the batch's bad rows.
"""

from __future__ import annotations

import re

from django.core.files.uploadedfile import SimpleUploadedFile

from batches.models import Batch
from batches.services import batch_create
from predictions.forms import molecule_lines

_SEPARATOR = re.compile(r"\s*,\s*|\s+")


def _smi_line(line: str) -> str:
    """`SMILES name` from `SMILES,name`, `SMILES<TAB>name` or `SMILES name`."""
    parts = _SEPARATOR.split(line, maxsplit=1)
    return " ".join(part.replace("\t", " ").strip() for part in parts if part.strip())


def batch_from_paste(*, text: str, owner_key: str) -> Batch:
    """Store the pasted lines as a queued batch owned by `owner_key`; raises BatchRefused."""
    data = "\n".join(_smi_line(line) for line in molecule_lines(text)) + "\n"
    upload = SimpleUploadedFile("pasted.smi", data.encode("utf-8"), content_type="text/plain")
    return batch_create(upload=upload, owner_key=owner_key)
