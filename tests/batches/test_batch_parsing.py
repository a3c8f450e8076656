"""Batch input formats, encodings, column detection and up-front refusals (no database)."""

import pytest

from molfiles.parsing import BatchRefused, inspect_file, iter_rows

SDF = """aspirin
  RDKit          2D

  0  0  0  0  0  0  0  0  0  0999 V2000
M  END
> <CHEMBL>
CHEMBL25

> <note>
first

$$$$
"""


def _write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def _read(path, filename=None, **kwargs):
    layout = inspect_file(
        path, filename=filename or path.name, max_rows=kwargs.pop("max_rows", 100), **kwargs
    )
    return layout, list(iter_rows(path, layout))


def test_csv_with_bom_and_crlf_keeps_id_and_extra_columns(tmp_path):
    path = _write(
        tmp_path, "in.csv", "\ufeffCompound ID,SMILES,assay\r\nA-1,CCO,3.5\r\nA-2,c1ccccc1,\r\n"
    )
    layout, rows = _read(path)
    assert (layout.smiles_column, layout.id_column, layout.columns) == (
        "SMILES",
        "Compound ID",
        ["assay"],
    )
    assert [(r.row_number, r.input_id, r.smiles, r.extra) for r in rows] == [
        (1, "A-1", "CCO", {"assay": "3.5"}),
        (2, "A-2", "c1ccccc1", {"assay": ""}),
    ]


def test_tsv_and_user_chosen_columns(tmp_path):
    path = _write(tmp_path, "in.tsv", "mol\tstructure_text\tlabel\nx\tCCN\tkeep me\n")
    layout, rows = _read(path, smiles_column="structure_text", id_column="label")
    assert layout.file_format == "tsv"
    assert (rows[0].smiles, rows[0].input_id, rows[0].extra) == ("CCN", "keep me", {"mol": "x"})


def test_csv_without_header_finds_the_smiles_column(tmp_path):
    path = _write(tmp_path, "in.csv", "1,CCO\n2,CCCN\n")
    layout, rows = _read(path)
    assert not layout.has_header and layout.smiles_column == "column_2" and layout.total_rows == 2
    assert [r.smiles for r in rows] == ["CCO", "CCCN"]


@pytest.mark.parametrize("name", ["in.smi", "in.txt"])
def test_smiles_list_with_optional_names(tmp_path, name):
    path = _write(tmp_path, name, "CCO ethanol\r\n\r\nc1ccccc1\tbenzene ring\nCCN\n")
    layout, rows = _read(path)
    assert layout.total_rows == 3
    assert [(r.row_number, r.smiles, r.input_id) for r in rows] == [
        (1, "CCO", "ethanol"),
        (2, "c1ccccc1", "benzene ring"),
        (3, "CCN", ""),
    ]


def test_sdf_names_and_fields_pass_through(tmp_path):
    from rdkit import Chem

    block = Chem.MolToMolBlock(Chem.MolFromSmiles("CC(=O)Oc1ccccc1C(=O)O"))
    good = (
        "aspirin" + block[block.index("\n") :] + "> <CHEMBL>\nCHEMBL25\n\n> <note>\nfirst\n\n$$$$\n"
    )
    bad = SDF.replace("aspirin", "broken").replace(
        "  0  0  0  0  0  0  0  0  0  0999 V2000", "garbage"
    )
    path = _write(tmp_path, "in.sdf", "\ufeff" + (good + bad).replace("\n", "\r\n"))
    layout, rows = _read(path)
    assert layout.columns == ["CHEMBL", "note"] and layout.total_rows == 2
    assert rows[0].input_id == "aspirin" and rows[0].extra == {
        "CHEMBL": "CHEMBL25",
        "note": "first",
    }
    assert Chem.MolToSmiles(Chem.MolFromSmiles(rows[0].smiles)) == "CC(=O)Oc1ccccc1C(=O)O"
    assert rows[1].input_id == "broken" and rows[1].error.startswith("RDKit could not read")


def test_iter_rows_resumes_from_a_row(tmp_path):
    path = _write(tmp_path, "in.csv", "smiles\nC\nCC\nCCC\n")
    layout = inspect_file(path, filename="in.csv", max_rows=10)
    assert [r.row_number for r in iter_rows(path, layout, start=2)] == [3]


def test_pasted_text_is_sniffed(tmp_path):
    path = _write(tmp_path, "paste", "name,smiles\nwater,O\n")
    layout = inspect_file(path, filename="", max_rows=10)
    assert layout.file_format == "csv" and layout.id_column == "name"


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("empty.csv", "", "empty"),
        ("blank.csv", "\r\n\n", "empty"),
        ("header.csv", "id,smiles\n", "no data rows"),
        ("bin.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00", "binary"),
        ("latin.csv", "smiles,name\nCCO,caf\xe9\n".encode("latin-1"), "not UTF-8"),
        ("cols.csv", "a,b\n1,2\n3,4\n", "No SMILES column"),
        ("big.smi", "C\n" * 11, "limit is 10"),
        ("in.xlsx", "smiles\nC\n", "Unsupported file type"),
        ("in.sdf", "just text\n", "not a molfile"),
    ],
)
def test_bad_files_are_refused_with_a_reason(tmp_path, name, data, message):
    path = _write(tmp_path, name, data)
    with pytest.raises(BatchRefused, match=message):
        inspect_file(path, filename=name, max_rows=10)


def test_a_chosen_column_that_does_not_exist_is_refused(tmp_path):
    path = _write(tmp_path, "in.csv", "id,smiles\n1,C\n")
    with pytest.raises(BatchRefused, match="no SMILES column 'structure'.*id, smiles"):
        inspect_file(path, filename="in.csv", smiles_column="structure", max_rows=10)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        # An unclosed quote used to swallow the next rows into one cell.
        ('smiles,id\nCCO,"A-1\nCCC,A-2\nCCCC,A-3\n', "starts on line 2 is never closed"),
        (
            'smiles,id\nCCO,A-1\nCCC,"A-2\nCCCC,A-3"x\n',
            "starts on line 3 does not end cleanly on line 4",
        ),
    ],
)
def test_unbalanced_quotes_are_refused_with_the_line(tmp_path, data, message):
    path = _write(tmp_path, "in.csv", data)
    with pytest.raises(BatchRefused, match=message):
        inspect_file(path, filename="in.csv", max_rows=10)


def test_a_quoted_value_over_several_lines_is_still_one_cell(tmp_path):
    layout, rows = _read(_write(tmp_path, "in.csv", 'smiles,id\nCCO,"ACME\n001"\nCCN,B\n'))
    assert [(r.row_number, r.input_id, r.error) for r in rows] == [
        (1, "ACME\n001", ""),
        (2, "B", ""),
    ]


@pytest.mark.parametrize(
    ("header", "fields", "message"),
    [
        ("smiles,id,smiles", {}, "Columns 1 and 3 are both named 'smiles'"),
        ("smiles,note,note", {}, "Columns 2 and 3 are both named 'note'"),
        ("SMILES,id,smiles", {}, "Columns 'SMILES' and 'smiles' could each be the SMILES column"),
        ("smiles,ID,Id", {}, "Columns 'ID' and 'Id' could each be the ID column"),
        ("SMILES,id,smiles", {"smiles_column": "Smiles"}, "could each be the SMILES column"),
    ],
)
def test_ambiguous_or_duplicate_headers_are_refused(tmp_path, header, fields, message):
    path = _write(tmp_path, "in.csv", f"{header}\nCCO,1,CCN\n")
    with pytest.raises(BatchRefused, match=message):
        inspect_file(path, filename="in.csv", max_rows=10, **fields)


def test_an_ambiguous_smiles_column_can_be_chosen_by_its_exact_name(tmp_path):
    path = _write(tmp_path, "in.csv", "SMILES,id,smiles\nCCO,1,CCN\n")
    layout, rows = _read(path, smiles_column="smiles")
    assert (layout.smiles_column, rows[0].smiles, rows[0].extra) == (
        "smiles",
        "CCN",
        {"SMILES": "CCO"},
    )


def test_column_count_and_header_name_length_are_bounded(tmp_path):
    wide = _write(tmp_path, "wide.csv", "smiles," + ",".join(f"c{i}" for i in range(200)) + "\nC\n")
    with pytest.raises(BatchRefused, match="201 columns; the limit is 200"):
        inspect_file(wide, filename="wide.csv", max_rows=10)
    assert inspect_file(wide, filename="wide.csv", max_rows=10, max_columns=201).total_rows == 1
    long = _write(tmp_path, "long.csv", "smiles," + "x" * 201 + "\nC,1\n")
    with pytest.raises(BatchRefused, match="column 2 is 201 characters long; the limit is 200"):
        inspect_file(long, filename="long.csv", max_rows=10)


def test_sd_fields_count_as_columns(tmp_path):
    record = SDF.replace("> <note>", "> <" + "n" * 201 + ">")
    with pytest.raises(BatchRefused, match="Record 1 has an SD field name 201 characters"):
        inspect_file(_write(tmp_path, "a.sdf", record), filename="a.sdf", max_rows=10)
    with pytest.raises(
        BatchRefused, match="Record 1 brings the SD fields to 2, more than the limit of 1"
    ):
        inspect_file(_write(tmp_path, "b.sdf", SDF), filename="b.sdf", max_rows=10, max_columns=1)


def test_ragged_rows_are_reported_per_row(tmp_path):
    data = "smiles,id\nCCO,A-1,Pfizer\n\nCCN\nCCC,A-3,,\nCCCC,A-4\n"
    layout, rows = _read(_write(tmp_path, "in.csv", data))
    assert layout.total_rows == 4
    assert [(r.row_number, r.error) for r in rows] == [
        (
            1,
            "Line 2: this row has 3 cells but the header has 2 (a value may contain an unquoted ',').",
        ),
        (2, "Line 4: this row has 1 cells but the header has 2 (a cell is missing)."),
        (3, ""),  # trailing empty cells are harmless
        (4, ""),
    ]


def test_a_nul_byte_anywhere_is_refused_with_its_line(tmp_path):
    path = _write(tmp_path, "in.smi", "C\n" * 6000 + "CC\x00O\n")  # far past the first 8 KiB
    with pytest.raises(BatchRefused, match="Line 6001 contains a NUL byte"):
        inspect_file(path, filename="in.smi", max_rows=10_000)


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-be"])
def test_utf16_with_a_byte_order_mark_is_decoded(tmp_path, codec):
    text = "smiles,name\r\nCCO,éthanol\r\n"
    data = text.encode(codec) if codec == "utf-16" else b"\xfe\xff" + text.encode(codec)
    layout, rows = _read(_write(tmp_path, "in.csv", data))
    assert [(r.smiles, r.input_id) for r in rows] == [("CCO", "éthanol")]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("smiles\nCCO\n".encode("utf-16-le"), "UTF-16 text without a byte-order mark"),
        ("smiles\nCCO\n".encode("utf-32"), "UTF-32"),
    ],
)
def test_other_unicode_encodings_are_refused_by_name(tmp_path, data, message):
    with pytest.raises(BatchRefused, match=message):
        inspect_file(_write(tmp_path, "in.csv", data), filename="in.csv", max_rows=10)


def test_limits_are_stated_in_mib():
    from molfiles.parsing import too_large_message

    assert (
        too_large_message(21 * 2**20 + 1, 20 * 2**20) == "The file is 21 MiB; the limit is 20 MiB."
    )
    assert too_large_message(int(2.5 * 2**20), 2**20) == "The file is 2.5 MiB; the limit is 1 MiB."


@pytest.mark.parametrize("quoted", [False, True])
def test_a_cell_over_the_limit_is_refused_as_too_large_with_its_line(tmp_path, quoted):
    """An 11 MiB cell was refused as an "unbalanced quote" (issue 21, Low)."""
    big = "x" * (11 * 1024 * 1024)
    cell = f'"{big}"' if quoted else big
    path = _write(tmp_path, "big.csv", f"smiles,note\nCCO,small\nCCN,{cell}\n")
    with pytest.raises(BatchRefused) as refusal:
        _read(path)
    message = str(refusal.value)
    assert "quote" not in message.lower()
    assert "line 3" in message and "10 MiB" in message and "larger" in message


def test_a_vanished_upload_is_refused_without_the_server_path(tmp_path):
    """A batch whose file was removed (expired, deleted) fails with a reason, not a path."""
    path = _write(tmp_path, "in.csv", "smiles\nCCO\n")
    layout = inspect_file(path, filename="in.csv", max_rows=10)
    path.unlink()
    with pytest.raises(BatchRefused) as refusal:
        list(iter_rows(path, layout))
    message = str(refusal.value)
    assert str(tmp_path) not in message and "in.csv" not in message
    assert "upload it again" in message


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (
            "[Errno 2] No such file or directory: '/srv/app/var/batches/ab12.csv'",
            "[Errno 2] No such file or directory: '(a file)'",
        ),
        ("Could not build the ZIP: /var/x/exports/a.zip.part", "Could not build the ZIP: (a file)"),
        ("C:\\srv\\var\\in.csv is locked", "(a file) is locked"),
        ("Row 3: F/C=C/F is not valid", "Row 3: F/C=C/F is not valid"),  # SMILES stay
    ],
)
def test_error_messages_never_show_server_paths(text, shown):
    from molfiles.parsing import public_message

    assert public_message(text) == shown


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("in.csv", "name,smiles,note\nwater,O,x\nethanol,CCO,y\n"),
        ("in.smi", "CCO ethanol\nc1ccccc1O phenol\n"),
        ("in.sdf", SDF),
        ("", "CCO\nCCN\n"),
    ],
)
def test_bytes_in_memory_read_as_the_same_file(tmp_path, name, data):
    """A paste or an API list is checked from memory, with the file's result to the byte."""
    stored = inspect_file(_write(tmp_path, name or "pasted", data), filename=name, max_rows=100)
    assert inspect_file(data.encode(), filename=name, max_rows=100) == stored
    with pytest.raises(BatchRefused, match="binary file"):
        inspect_file(b"CCO\n\x00\n", filename=name, max_rows=100)
