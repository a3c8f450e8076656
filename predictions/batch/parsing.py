"""Reading batch input files: CSV/TSV, SMILES lists (.smi/.txt) and SD files.

`inspect_file` runs in the web request: one streaming pass that checks the encoding,
finds the header and the SMILES/ID columns and counts rows, refusing bad files up front.
`iter_rows` runs in the worker and yields `InputRow`s in file order, from any row on.
Row numbers are 1-based data rows (header and blank lines excluded; SDF: record number).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rdkit import Chem

SMILES_NAMES = (
    "smiles",
    "canonical_smiles",
    "smiles_string",
    "isomeric_smiles",
    "smi",
    "structure",
    "molecule",
    "mol",
)
ID_NAMES = (
    "id",
    "name",
    "compound_id",
    "compound",
    "cmpd_id",
    "mol_id",
    "molecule_id",
    "molecule_name",
    "identifier",
    "title",
    "chembl_id",
    "cas",
    "label",
)
FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".smi": "smi",
    ".smiles": "smi",
    ".txt": "smi",
    ".sdf": "sdf",
    ".sd": "sdf",
}
DELIMITERS = {"csv": ",", "tsv": "\t"}
csv.field_size_limit(10 * 1024 * 1024)


class BatchRefused(ValueError):
    """An input file we will not queue; `str()` tells the user why."""


@dataclass
class Layout:
    file_format: str
    total_rows: int = 0
    has_header: bool = True
    smiles_column: str = ""
    id_column: str = ""
    columns: list[str] = field(default_factory=list)  # passed through, in file order


@dataclass
class InputRow:
    row_number: int
    input_id: str
    smiles: str
    extra: dict[str, str]
    error: str = ""  # set when the row could not even be read (SDF molfile errors)


def _norm(name: str) -> str:
    return name.strip().lower().replace(" ", "_").replace("-", "_")


def format_for(filename: str, sample: str) -> str:
    """The format from the file extension; pasted text (no extension) is sniffed."""
    suffix = Path(filename).suffix.lower()
    if suffix in FORMATS:
        return FORMATS[suffix]
    if suffix:
        raise BatchRefused(
            f"Unsupported file type {suffix!r}: upload .csv, .tsv, .smi, .txt or .sdf."
        )
    if "$$$$" in sample or "M  END" in sample:
        return "sdf"
    first = sample.lstrip("\ufeff").split("\n", 1)[0]
    return "tsv" if "\t" in first else "csv" if "," in first else "smi"


def _text_lines(path: Path) -> Iterator[str]:
    """Decoded lines (UTF-8, BOM dropped, CRLF/CR normalised); refuses binary or non-UTF-8."""
    with path.open("rb") as handle:
        head = handle.read(8192)
        if b"\x00" in head:
            raise BatchRefused(
                "This looks like a binary file, not text: upload CSV, TSV, SMILES or SDF."
            )
        handle.seek(0)
        text = io.TextIOWrapper(handle, encoding="utf-8-sig", errors="strict", newline=None)
        try:
            yield from text
        except UnicodeDecodeError as error:
            raise BatchRefused(
                f"The file is not UTF-8 text (bad byte at position {error.start}): save it as UTF-8."
            ) from None


def _looks_like_smiles(value: str) -> bool:
    value = value.strip()
    if not value or " " in value or len(value) > 500:
        return False
    return Chem.MolFromSmiles(value, sanitize=False) is not None


def _pick(header: list[str], wanted: str, names: tuple[str, ...], what: str) -> str:
    if wanted:
        for name in header:
            if name == wanted or _norm(name) == _norm(wanted):
                return name
        raise BatchRefused(
            f"There is no {what} column {wanted!r}; the columns are: {', '.join(header)}."
        )
    normalised = {_norm(name): name for name in header}
    return next((normalised[n] for n in names if n in normalised), "")


def _csv_layout(path: Path, fmt: str, smiles_column: str, id_column: str, max_rows: int) -> Layout:
    reader = csv.reader(_text_lines(path), delimiter=DELIMITERS[fmt])
    first = next((row for row in reader if any(cell.strip() for cell in row)), None)
    if first is None:
        raise BatchRefused("The file is empty: it has no rows.")
    header = [cell.strip() for cell in first]
    named = _pick(header, "", SMILES_NAMES, "SMILES")
    has_header = bool(named) or smiles_column in header or not any(map(_looks_like_smiles, header))
    if not has_header:
        header = [f"column_{i}" for i in range(1, len(first) + 1)]
    layout = Layout(file_format=fmt, has_header=has_header)
    layout.smiles_column = _pick(header, smiles_column, SMILES_NAMES, "SMILES")
    layout.id_column = _pick(header, id_column, ID_NAMES, "ID")
    count = 0 if has_header else 1
    sample = [] if has_header else [first]
    for row in reader:
        if any(cell.strip() for cell in row):
            count += 1
            if len(sample) < 20:
                sample.append(row)
            if count > max_rows:
                raise BatchRefused(
                    f"The file has more than {max_rows:,} rows; the limit is {max_rows:,}."
                )
    if not layout.smiles_column:
        # No recognised header name: the first column whose values read as SMILES.
        for index, name in enumerate(header):
            values = [r[index] for r in sample if index < len(r)]
            if values and sum(map(_looks_like_smiles, values)) * 2 > len(values):
                layout.smiles_column = name
                break
        else:
            raise BatchRefused(
                "No SMILES column found: name it 'smiles' or choose it. The columns are: "
                + ", ".join(header)
                + "."
            )
    if count == 0:
        raise BatchRefused("The file has a header but no data rows.")
    layout.total_rows = count
    layout.columns = [h for h in header if h not in (layout.smiles_column, layout.id_column)]
    return layout


def _smi_layout(path: Path, max_rows: int) -> Layout:
    count, has_header = 0, False
    for line in _text_lines(path):
        if not line.strip():
            continue
        if count == 0 and not has_header and _norm(line.split()[0]) in SMILES_NAMES:
            has_header = True
            continue
        count += 1
        if count > max_rows:
            raise BatchRefused(
                f"The file has more than {max_rows:,} rows; the limit is {max_rows:,}."
            )
    if count == 0:
        raise BatchRefused("The file is empty: it has no SMILES.")
    return Layout("smi", count, has_header, "SMILES", "Name", [])


def _sdf_records(path: Path) -> Iterator[list[str]]:
    record: list[str] = []
    for line in _text_lines(path):
        if line.rstrip("\n").strip() == "$$$$":
            yield record
            record = []
        else:
            record.append(line.rstrip("\n"))
    if any(line.strip() for line in record):
        yield record


def _sd_fields(record: list[str]) -> tuple[int, dict[str, str]]:
    """(index of 'M  END', {field: value}) of one SDF record."""
    end = next((i for i, line in enumerate(record) if line.startswith("M  END")), len(record))
    fields: dict[str, str] = {}
    name, values = None, []
    for line in record[end + 1 :]:
        if line.startswith(">") and "<" in line and ">" in line[line.index("<") :]:
            if name is not None:
                fields[name] = "\n".join(values).strip()
            name, values = line[line.index("<") + 1 : line.rindex(">")], []
        elif name is not None:
            values.append(line)
    if name is not None:
        fields[name] = "\n".join(values).strip()
    return end, fields


def _sdf_layout(path: Path, max_rows: int) -> Layout:
    count, columns = 0, {}
    for record in _sdf_records(path):
        count += 1
        if count > max_rows:
            raise BatchRefused(
                f"The file has more than {max_rows:,} molecules; the limit is {max_rows:,}."
            )
        if not any("M  END" in line for line in record):
            raise BatchRefused(
                f"Record {count} is not a molfile (no 'M  END' line): is this an SD file?"
            )
        columns.update(dict.fromkeys(_sd_fields(record)[1]))
    if count == 0:
        raise BatchRefused("The file is empty: it has no molecules.")
    return Layout("sdf", count, False, "SMILES", "Name", list(columns))


def inspect_file(
    path: Path, *, filename: str, smiles_column: str = "", id_column: str = "", max_rows: int
) -> Layout:
    """Check a stored upload and describe its layout; raises BatchRefused with the reason."""
    with path.open("rb") as handle:
        sample = handle.read(4096).decode("utf-8", errors="replace")
    if not sample.strip("\ufeff \r\n\t"):
        raise BatchRefused("The file is empty.")
    fmt = format_for(filename, sample)
    if fmt in DELIMITERS:
        return _csv_layout(path, fmt, smiles_column.strip(), id_column.strip(), max_rows)
    return _smi_layout(path, max_rows) if fmt == "smi" else _sdf_layout(path, max_rows)


def _mol_block_smiles(block: str) -> tuple[str, str]:
    """(SMILES, error) for one molfile, with RDKit's reason on failure."""
    from predictions import chemistry

    mol, reason = chemistry.read_with_reason(Chem.MolFromMolBlock, block)
    if mol is None:
        return "", f"RDKit could not read the molfile: {reason}."
    return Chem.MolToSmiles(mol), ""


def iter_rows(path: Path, layout: Layout, *, start: int = 0) -> Iterator[InputRow]:
    """Rows numbered start+1 onwards, in file order."""
    number = 0
    if layout.file_format in DELIMITERS:
        reader = csv.reader(_text_lines(path), delimiter=DELIMITERS[layout.file_format])
        header = None
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if header is None:
                header = (
                    [c.strip() for c in row]
                    if layout.has_header
                    else [f"column_{i}" for i in range(1, len(row) + 1)]
                )
                if layout.has_header:
                    continue
            number += 1
            if number <= start:
                continue
            values = dict(zip(header, row, strict=False))  # ragged rows: missing cells are blank
            yield InputRow(
                number,
                values.get(layout.id_column, "").strip(),
                values.get(layout.smiles_column, "").strip(),
                {c: values.get(c, "") for c in layout.columns},
            )
    elif layout.file_format == "smi":
        skip_header = layout.has_header
        for line in _text_lines(path):
            if not line.strip():
                continue
            if skip_header:
                skip_header = False
                continue
            number += 1
            if number > start:
                parts = line.strip().split(None, 1)
                yield InputRow(number, parts[1].strip() if len(parts) > 1 else "", parts[0], {})
    else:
        for record in _sdf_records(path):
            number += 1
            if number <= start:
                continue
            end, fields = _sd_fields(record)
            smiles, error = _mol_block_smiles("\n".join(record[: end + 1]) + "\n")
            yield InputRow(
                number,
                record[0].strip() if record else "",
                smiles,
                {c: fields.get(c, "") for c in layout.columns},
                error,
            )
