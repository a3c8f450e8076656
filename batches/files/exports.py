"""Batch exports, built a chunk of rows at a time: CSV and SDF streamed to the browser, the ZIP
written to a file by the worker (it draws pictures; see archive.py).

Rows are read in `row_number` order by keyset pagination (no offsets, no joins), so
memory stays flat for 100,000 rows. Pictures for the ZIP are drawn on first need and kept.
"""

from __future__ import annotations

import io
import itertools
import zipfile
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import BinaryIO

from django.db import reset_queries
from rdkit import Chem

from batches.files.picture_names import PictureNames
from batches.models import Batch, BatchRow
from batches.worker import profiles
from chemreport import rendering, salts, units
from molfiles.tables import (
    SafeCsvWriter,
    output_header,
    profile_cells,
    profile_header,
    trust_cells,
    trust_header,
)
from predictions import services as core
from predictions.downloads.exports import Download
from predictions.models import Prediction
from predictions.serving import reference

PAGE = 1000


def iter_batch_rows(batch: Batch, *, page: int = PAGE) -> Iterator[BatchRow]:
    last = 0
    while True:
        reset_queries()  # under DEBUG, a long download would otherwise keep every query
        rows = list(
            BatchRow.objects.filter(batch_id=batch.pk, row_number__gt=last).order_by("row_number")[
                :page
            ]
        )
        yield from profiles.complete_rows(rows)  # none without its profile, even mid-batch
        if len(rows) < page:
            return
        last = rows[-1].row_number


def csv_header(batch: Batch) -> list[str]:
    return [
        "row",
        batch.id_column or "id",
        *batch.columns,
        batch.smiles_column or "smiles",
        "canonical_smiles",
        *[output_header(o) for o in batch.output_specs],
        *trust_header(batch.output_specs),
        *reference.percentile_header(batch.output_specs),
        *profile_header(),
        "status",
        "error",
        "prediction_id",
    ]


def _values(batch: Batch, outputs: list[dict]) -> list[float | str]:
    """The row's predicted values as floats (numbers stay numbers in every export)."""
    by_label = {o["label"]: o["value"] for o in outputs}
    values = [by_label.get(o["label"]) for o in batch.output_specs]
    return [float(v) if v is not None else "" for v in values]


def _percentile_cells(batch: Batch, row: BatchRow) -> list:
    return reference.percentile_cells(batch.model_hash, batch.output_specs, row.outputs)


def _parent_note(row: BatchRow) -> str:
    """A salt or mixture row: what its values are for (salts.parent_note)."""
    if row.status != "ok":
        return ""
    return salts.parent_note_for_input(row.input_smiles, outputs=row.outputs)


def csv_record(batch: Batch, row: BatchRow, *, full: bool = False) -> list:
    """One CSV row; values rounded to what the model can back (units.py) unless `full`."""
    extra = [row.extra.get(column, "") for column in batch.columns]
    outputs = row.outputs if full else units.rounded_outputs(row.outputs)
    return [
        row.row_number,
        row.input_id,
        *extra,
        row.input_smiles,
        row.canonical_smiles,
        *_values(batch, outputs),
        *trust_cells(batch.output_specs, outputs, row.domain, _parent_note(row)),
        *_percentile_cells(batch, row),
        *profile_cells(row.profile, full=full),
        row.status,
        row.error,
        row.prediction_public_id,  # the prediction's link id, never the database key
    ]


def _csv_lines(batch: Batch, rows: Iterable[BatchRow], full: bool = False) -> Iterator[str]:
    buffer = io.StringIO()
    writer = SafeCsvWriter(buffer)  # IDs, carried cells, headers and inputs are user text
    writer.writerow(csv_header(batch))
    for count, row in enumerate(rows, 1):
        writer.writerow(csv_record(batch, row, full=full))
        if count % 200 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def stream_csv(batch: Batch, *, full: bool = False) -> Iterator[str]:
    return _csv_lines(batch, iter_batch_rows(batch), full)


def sd_line(value) -> str:
    """One line of text for an SD title or field: a line break would end or corrupt the record
    (RDKit reads a title with a newline as a broken molfile), so lines are joined by spaces.
    A line starting `$$$$` (the record separator: line-based readers end the record there) gets
    a leading `'`, as a spreadsheet formula does in the CSV."""
    line = " ".join(part.strip() for part in str(value).splitlines() if part.strip())
    return "'" + line if line.startswith("$$$$") else line


def sdf_record(batch: Batch, row: BatchRow) -> str:
    mol = Chem.MolFromSmiles(row.canonical_smiles) if row.canonical_smiles else None
    if mol is None:
        mol = Chem.Mol()  # failed rows stay in the file, in order, as empty records
    else:
        mol = rendering.laid_out(mol)  # within the depiction budget (a large ring: RDKit's)
    mol.SetProp("_Name", sd_line(row.input_id) or f"row {row.row_number}")
    block = Chem.MolToMolBlock(mol).rstrip("\n") + "\n"
    fields = {
        "row": row.row_number,
        **{c: row.extra.get(c, "") for c in batch.columns},
        "input_smiles": row.input_smiles,
        "canonical_smiles": row.canonical_smiles,
    }
    fields.update(
        zip(
            [output_header(o) for o in batch.output_specs], _values(batch, row.outputs), strict=True
        )
    )
    trust = trust_cells(batch.output_specs, row.outputs, row.domain, _parent_note(row))
    fields.update(zip(trust_header(batch.output_specs), trust, strict=True))
    percentiles = _percentile_cells(batch, row)
    fields.update(zip(reference.percentile_header(batch.output_specs), percentiles, strict=True))
    profile = profile_cells(row.profile, full=True)
    fields.update(zip(profile_header(), profile, strict=True))
    fields.update(status=row.status, error=row.error)
    body = "".join(f">  <{sd_line(name)}>\n{sd_line(value)}\n\n" for name, value in fields.items())
    return f"{block}{body}$$$$\n"


def stream_sdf(batch: Batch) -> Iterator[str]:
    parts: list[str] = []
    for row in iter_batch_rows(batch):
        parts.append(sdf_record(batch, row))
        if len(parts) >= 200:
            yield "".join(parts)
            parts = []
    yield "".join(parts)


def _pictures(ids: list) -> Iterator[Prediction]:
    fields = ("pk", "public_id", "canonical_smiles", "outputs", "model_hash")
    fields += ("molecule_png", "plot_png")
    for prediction in Prediction.objects.filter(pk__in=ids).only(*fields):
        yield core.prediction_ensure_blobs(
            prediction=prediction, fields=("molecule_png", "plot_png")
        )


def write_zip(batch: Batch, target: BinaryIO, progress: Callable[[int], None]) -> None:
    """results.csv, then molecules/<name>.png and plots/<name>.png for each predicted row, named
    by the row's compound ID (picture_names.py: safe, unique; `row-<n>` without one).

    Draws every picture not drawn yet (~80 ms a molecule): only the worker calls this
    (batches/files/archive.py). `progress(rows)` is told how many rows are packed.
    """
    names = PictureNames()
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as bundle:
        with bundle.open("results.csv", "w") as member:
            for text in stream_csv(batch):
                member.write(text.encode("utf-8"))
        pending: list[BatchRow] = []
        for count, row in enumerate(itertools.chain(iter_batch_rows(batch), [None]), 1):
            if row is not None and row.prediction_id:
                pending.append(row)
            if pending and (row is None or len(pending) >= 100):
                reset_queries()
                drawn = {p.pk: p for p in _pictures(list({r.prediction_id for r in pending}))}
                for done in pending:
                    prediction = drawn.get(done.prediction_id)
                    if prediction is None:  # deleted meanwhile
                        continue
                    stem = names.stem(input_id=done.input_id, row_number=done.row_number)
                    for folder, field in (("molecules", "molecule_png"), ("plots", "plot_png")):
                        bundle.writestr(
                            f"{folder}/{stem}.png",
                            bytes(getattr(prediction, field)),
                            compress_type=zipfile.ZIP_STORED,
                        )
                pending = []
                progress(count)


def _histogram_data(batch: Batch) -> list:
    """Each output's predicted values, grouped by the row's domain verdict (ok rows only)."""
    grouped = [{} for _ in batch.output_specs]
    labels = [spec["label"] for spec in batch.output_specs]
    for row in iter_batch_rows(batch):
        by_label = {o["label"]: o["value"] for o in row.outputs}
        for index, label in enumerate(labels):
            if label in by_label:
                grouped[index].setdefault(row.verdict, []).append(by_label[label])
    return [
        rendering.HistogramOutput(label=spec["label"], unit=spec.get("unit", ""), values=values)
        for spec, values in zip(batch.output_specs, grouped)
    ]


def histograms_png(batch: Batch) -> Iterator[bytes]:
    yield rendering.batch_histograms(_histogram_data(batch), fmt="png")


def histograms_svg(batch: Batch) -> Iterator[str]:
    yield rendering.batch_histograms(_histogram_data(batch), fmt="svg")


DOWNLOADS = {
    "results.csv": Download(
        stream_csv, "text/csv; charset=utf-8", full=partial(stream_csv, full=True)
    ),
    "results.sdf": Download(stream_sdf, "chemical/x-mdl-sdfile; charset=utf-8"),
    "histograms.png": Download(histograms_png, "image/png"),
    "histograms.svg": Download(histograms_svg, "image/svg+xml"),
}
