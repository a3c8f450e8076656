"""Reading batch input files: CSV/TSV, SMILES lists (.smi/.txt) and SD files.

`inspect_file` runs in the web request: one streaming pass over a stored upload, or over a
paste's or an API list's bytes in memory, that checks the encoding, finds the header and the
SMILES/ID columns and counts rows, refusing bad input up front.
`iter_rows` runs in the worker and yields `InputRow`s in file order, from any row on.
Row numbers are 1-based data rows (header and blank lines excluded; SDF: record number).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

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
MAX_CELL_BYTES = 10 * 1024 * 1024  # one CSV/TSV value (the csv module's field limit)
csv.field_size_limit(MAX_CELL_BYTES)
MAX_HEADER_CHARS = (
    200  # longer column names are refused (each row stores its carried cells by name)
)


class BatchRefused(ValueError):
    """An input file we will not queue; `str()` tells the user why."""


# An absolute file path (two or more parts) in an error message: a server's, never shown.
_SERVER_PATH = re.compile(r"""(?<![\w.])(?:[A-Za-z]:)?(?:[/\\][^\s'"/\\:]+){2,}[/\\]?""")


def public_message(text: str) -> str:
    """An error message as a visitor may read it: server file paths replaced by "(a file)"."""
    return _SERVER_PATH.sub("(a file)", text or "")


def mib(size: int) -> str:
    """A byte count as users read limits: binary megabytes, stated as MiB everywhere."""
    return f"{size / 2**20:.1f} MiB".replace(".0 MiB", " MiB")


def too_large_message(size: int, limit: int) -> str:
    return f"The file is {mib(size)}; the limit is {mib(limit)}."


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


def _encoding(head: bytes) -> str:
    """The codec for a file starting with `head`: UTF-8 (BOM optional) or UTF-16 with a BOM."""
    if head.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        raise BatchRefused("The file is UTF-32 text: save it as UTF-8.")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"  # the BOM says which byte order, and is dropped
    if b"\x00" in head:
        pairs = len(head) // 2 or 1
        if max(head[0::2].count(0), head[1::2].count(0)) > pairs // 2:
            raise BatchRefused(
                "The file looks like UTF-16 text without a byte-order mark: "
                "save it as UTF-8 (or as UTF-16 with a BOM)."
            )
        raise BatchRefused(
            "This looks like a binary file, not text: upload CSV, TSV, SMILES or SDF."
        )
    return "utf-8-sig"


# What is read: a stored file, or the bytes of a paste or an API list, checked in memory.
Source = Path | bytes


def _open(source: Source) -> BinaryIO:
    if isinstance(source, bytes):
        return io.BytesIO(source)
    try:
        return source.open("rb")
    except OSError as error:  # removed meanwhile (expired, deleted): never name server paths
        raise BatchRefused(
            "The uploaded file is no longer on the server "
            f"({error.strerror or 'unreadable'}): upload it again."
        ) from None


def _text_lines(source: Source) -> Iterator[str]:
    """Decoded lines (UTF-8 or UTF-16, BOM dropped, CRLF/CR normalised).

    Refuses binary files, other encodings and a NUL anywhere in the file, naming the line.
    """
    handle = _open(source)
    with handle:
        encoding = _encoding(handle.read(4096))
        handle.seek(0)
        text = io.TextIOWrapper(handle, encoding=encoding, errors="strict", newline=None)
        number = 0
        try:
            for number, line in enumerate(text, 1):
                if "\x00" in line:
                    raise BatchRefused(
                        f"Line {number} contains a NUL byte: this is not a text file. "
                        "Upload CSV, TSV, SMILES or SDF."
                    )
                yield line
        except UnicodeDecodeError:
            name = "UTF-16" if encoding == "utf-16" else "UTF-8"
            raise BatchRefused(
                f"The file is not {name} text (a bad byte on line {number + 1}): save it as UTF-8."
            ) from None


def _records(path: Source, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """CSV records with the line each starts on; an unbalanced quote is refused, not merged."""
    reader = csv.reader(_text_lines(path), delimiter=delimiter, strict=True)
    start = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            if "field larger than field limit" in str(error):
                raise BatchRefused(
                    f"A value in the record that starts on line {start} is larger than "
                    f"{mib(MAX_CELL_BYTES)}, the most one cell may hold: shorten it or leave "
                    "that column out."
                ) from None
            ends = (
                "is never closed"
                if "end of data" in str(error)
                else f"does not end cleanly on line {reader.line_num} ({error})"
            )
            raise BatchRefused(
                f"Unbalanced quote: the quoted value that starts on line {start} {ends}. "
                "Quote whole values and double any quote inside them."
            ) from None
        yield start, row
        start = reader.line_num + 1


def _looks_like_smiles(value: str) -> bool:
    value = value.strip()
    if not value or " " in value or len(value) > 500:
        return False
    return Chem.MolFromSmiles(value, sanitize=False) is not None


def _header(first: list[str]) -> list[str]:
    """Column names from the header row: bounded in length, unique, blanks named by position."""
    header = [cell.strip() or f"column_{i}" for i, cell in enumerate(first, 1)]
    for i, name in enumerate(header, 1):
        if len(name) > MAX_HEADER_CHARS:
            raise BatchRefused(
                f"The name of column {i} is {len(name):,} characters long; "
                f"the limit is {MAX_HEADER_CHARS}."
            )
        if header.index(name) + 1 != i:
            raise BatchRefused(
                f"Columns {header.index(name) + 1} and {i} are both named {name!r}: "
                "rename one so that each column has its own name."
            )
    return header


def _pick(header: list[str], wanted: str, names: tuple[str, ...], what: str) -> str:
    """The column the user named (exactly, else by normalised name) or the first known name."""
    if wanted:
        if wanted in header:
            return wanted
        matches = [name for name in header if _norm(name) == _norm(wanted)]
        if not matches:
            raise BatchRefused(
                f"There is no {what} column {wanted!r}; the columns are: {', '.join(header)}."
            )
    else:
        found = next((n for n in names if any(_norm(h) == n for h in header)), None)
        matches = [name for name in header if found and _norm(name) == found]
    if len(matches) > 1:
        listed = " and ".join(repr(name) for name in matches)
        raise BatchRefused(
            f"Columns {listed} could each be the {what} column: "
            f"type the one to use in the '{what} column' box."
        )
    return matches[0] if matches else ""


def _csv_layout(
    path: Source, fmt: str, smiles_column: str, id_column: str, max_rows: int, max_columns: int
) -> Layout:
    records = (row for _, row in _records(path, DELIMITERS[fmt]))
    first = next((row for row in records if any(cell.strip() for cell in row)), None)
    if first is None:
        raise BatchRefused("The file is empty: it has no rows.")
    if len(first) > max_columns:
        raise BatchRefused(f"The file has {len(first):,} columns; the limit is {max_columns:,}.")
    cells = [cell.strip() for cell in first]
    has_header = (
        any(_norm(cell) in SMILES_NAMES for cell in cells)
        or smiles_column in cells
        or not any(map(_looks_like_smiles, cells))
    )
    header = _header(first) if has_header else [f"column_{i}" for i in range(1, len(first) + 1)]
    layout = Layout(file_format=fmt, has_header=has_header)
    layout.smiles_column = _pick(header, smiles_column, SMILES_NAMES, "SMILES")
    layout.id_column = _pick(header, id_column, ID_NAMES, "ID")
    count = 0 if has_header else 1
    sample = [] if has_header else [first]
    for row in records:
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


def _smi_layout(path: Source, max_rows: int) -> Layout:
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


def _sdf_records(path: Source) -> Iterator[list[str]]:
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


def _sdf_layout(path: Source, max_rows: int, max_columns: int) -> Layout:
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
        long = next((name for name in columns if len(name) > MAX_HEADER_CHARS), None)
        if len(columns) > max_columns or long is not None:
            raise BatchRefused(
                f"Record {count} brings the SD fields to {len(columns):,}, more than the limit "
                f"of {max_columns:,}."
                if long is None
                else f"Record {count} has an SD field name {len(long):,} characters long; "
                f"the limit is {MAX_HEADER_CHARS}."
            )
    if count == 0:
        raise BatchRefused("The file is empty: it has no molecules.")
    return Layout("sdf", count, False, "SMILES", "Name", list(columns))


def inspect_file(
    path: Source,
    *,
    filename: str,
    smiles_column: str = "",
    id_column: str = "",
    max_rows: int,
    max_columns: int = 200,
) -> Layout:
    """Check a stored upload, or a paste's or a list's bytes in memory, and describe its layout;
    raises BatchRefused with the reason."""
    with _open(path) as handle:
        head = handle.read(4096)
    sample = head.decode(_encoding(head), errors="replace")
    if not sample.strip("\ufeff \r\n\t"):
        raise BatchRefused("The file is empty.")
    fmt = format_for(filename, sample)
    if fmt in DELIMITERS:
        return _csv_layout(
            path, fmt, smiles_column.strip(), id_column.strip(), max_rows, max_columns
        )
    return _smi_layout(path, max_rows) if fmt == "smi" else _sdf_layout(path, max_rows, max_columns)


def _mol_block_smiles(block: str) -> tuple[str, str]:
    """(SMILES, error) for one molfile, with RDKit's reason on failure."""
    from chemcore import chemistry

    mol, reason = chemistry.read_with_reason(Chem.MolFromMolBlock, block)
    if mol is None:
        return "", f"RDKit could not read the molfile: {reason}."
    return Chem.MolToSmiles(mol), ""


def _ragged(row: list[str], width: int, line: int, delimiter: str) -> str:
    """Why a row's cells do not line up with the header ("" when they do)."""
    cells = len(row)
    while cells > width and not row[cells - 1].strip():
        cells -= 1  # trailing empty cells are harmless
    if cells == width:
        return ""
    cause = (
        f"a value may contain an unquoted {'tab' if delimiter == chr(9) else repr(delimiter)}"
        if cells > width
        else "a cell is missing"
    )
    return f"Line {line}: this row has {cells} cells but the header has {width} ({cause})."


def _csv_rows(path: Path, layout: Layout, start: int) -> Iterator[InputRow]:
    delimiter = DELIMITERS[layout.file_format]
    header, number = None, 0
    for line, row in _records(path, delimiter):
        if not any(cell.strip() for cell in row):
            continue
        if header is None:
            header = (
                _header(row)
                if layout.has_header
                else [f"column_{i}" for i in range(1, len(row) + 1)]
            )
            if layout.has_header:
                continue
        number += 1
        if number <= start:
            continue
        values = dict(zip(header, row, strict=False))
        yield InputRow(
            number,
            values.get(layout.id_column, "").strip(),
            values.get(layout.smiles_column, "").strip(),
            {c: values.get(c, "") for c in layout.columns},
            _ragged(row, len(header), line, delimiter),
        )


def iter_rows(path: Path, layout: Layout, *, start: int = 0) -> Iterator[InputRow]:
    """Rows numbered start+1 onwards, in file order."""
    number = 0
    if layout.file_format in DELIMITERS:
        yield from _csv_rows(path, layout, start)
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
