"""Batch input formats, encodings, column detection and up-front refusals (no database)."""

import pytest

from predictions.batch.parsing import BatchRefused, inspect_file, iter_rows

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
