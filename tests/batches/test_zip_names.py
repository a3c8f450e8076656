"""results.zip names each row's pictures by its compound ID: safe for file systems, unique."""

import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from django.urls import reverse

from batches.files import archive
from batches.files.picture_names import PictureNames, safe_stem
from batches.models import Batch


@pytest.mark.parametrize(
    ("text", "stem"),
    [
        ("CHEMBL25", "CHEMBL25"),
        ("../../etc/passwd", "etc_passwd"),
        ("a/b\\c:d*e?f", "a_b_c_d_e_f"),
        ("  spaced name  ", "spaced_name"),
        ("Verbindung-ä", "Verbindung-ä"),
        ("CON", "_CON"),
        ("nul.txt", "_nul.txt"),
        ("...", ""),
        ("x" * 300, "x" * 100),
        ("=HYPERLINK(1)", "HYPERLINK_1"),
        # Windows reserves COM0/LPT0 and the superscript-digit forms too (issue 21, Low)
        ("COM0", "_COM0"),
        ("lpt0.png", "_lpt0.png"),
        ("COM¹", "_COM1"),
        ("LPT9", "_LPT9"),
        ("COM10", "COM10"),
    ],
)
def test_safe_stem(text, stem):
    assert safe_stem(text) == stem


def test_names_are_unique_ignoring_case_and_fall_back_to_the_row():
    names = PictureNames()
    given = [("A-1", 1), ("a-1", 2), ("A-1", 3), ("", 4), ("row-4", 5), ("A-1-row-3", 6)]
    stems = [names.stem(input_id=i, row_number=n) for i, n in given]
    assert stems == ["A-1", "a-1-row-2", "A-1-row-3", "row-4", "row-4-row-5", "A-1-row-3-row-6"]
    assert len({s.casefold() for s in stems}) == len(stems)


def test_zip_pictures_are_named_by_compound_id(db, client, queue, predictor):
    text = (
        "id,smiles\n"
        "CHEMBL25,CC(=O)Oc1ccccc1C(=O)O\n"
        "../evil/..,CCO\n"
        "CHEMBL25,OCC\n"  # a repeated ID (and a molecule already in the file)
        ",c1ccccc1O\n"  # no ID
        "bad,C1CC\n"  # not a molecule: no pictures
    )
    upload = SimpleUploadedFile("ids.csv", text.encode())
    with TestCase.captureOnCommitCallbacks(execute=True):
        client.post(reverse("batches:list"), {"file": upload})
    queue()
    batch = Batch.objects.get()
    client.post(reverse("batches:zip", args=[batch.public_id]))
    queue()
    with zipfile.ZipFile(archive.zip_file(batch=batch)) as bundle:
        names = bundle.namelist()
        stems = ["CHEMBL25", "evil", "CHEMBL25-row-3", "row-4"]
        assert names == [
            "results.csv",
            *(f"{folder}/{stem}.png" for stem in stems for folder in ("molecules", "plots")),
        ]
        # rows 2 and 3 are one molecule: the same picture under each row's name
        assert bundle.read("molecules/evil.png") == bundle.read("molecules/CHEMBL25-row-3.png")
        assert bundle.read("molecules/row-4.png").startswith(b"\x89PNG")
