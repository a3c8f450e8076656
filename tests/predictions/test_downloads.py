"""Downloads: right types, filenames, caching headers, and content equal to what is stored."""

import csv
import io
import json
import zipfile

import pytest

from predictions.downloads.exports import DOWNLOADS


@pytest.fixture
def aspirin(make_prediction):
    return make_prediction("CC(=O)Oc1ccccc1C(=O)O", title="Aspirin")


def url(prediction, name):
    return f"/predictions/{prediction.public_id}/{name}"


@pytest.mark.parametrize(
    ("name", "content_type", "magic"),
    [
        ("molecule.png", "image/png", b"\x89PNG"),
        ("plot.png", "image/png", b"\x89PNG"),
        ("molecule.svg", "image/svg+xml", b"<?xml"),
        ("plot.svg", "image/svg+xml", b"<?xml"),
        ("bundle.zip", "application/zip", b"PK"),
    ],
)
def test_blob_downloads(client, aspirin, name, content_type, magic):
    response = client.get(url(aspirin, name) + "?download=1")
    assert response.status_code == 200
    assert response["Content-Type"].startswith(content_type)
    assert response.content.lstrip().startswith(magic)
    assert response["Content-Disposition"] == f'attachment; filename="aspirin-{name}"'
    assert response["ETag"]
    if name.endswith(".svg"):
        assert response["Content-Security-Policy"].startswith("default-src 'none'")


def test_images_display_inline_without_download_flag(client, aspirin):
    response = client.get(url(aspirin, "molecule.png"))
    assert response["Content-Disposition"].startswith("inline;")
    assert response.content.startswith(b"\x89PNG")


@pytest.mark.parametrize("name", ["molecule.png", "plot.png"])
def test_pngs_are_drawn_on_download_and_not_stored_by_it(client, aspirin, name):
    from predictions import services

    field = name.replace(".", "_")
    assert not getattr(aspirin, field)  # not drawn when the prediction was made
    first = client.get(url(aspirin, name))
    assert first.content.startswith(b"\x89PNG")
    aspirin.refresh_from_db()
    assert not getattr(aspirin, field)  # a GET stores nothing
    again = client.get(url(aspirin, name))
    assert again.content == first.content and again["ETag"] == first["ETag"]
    # What the worker would store is the same picture.
    assert services.missing_pictures(aspirin, (field,))[field] == first.content


def test_etag_gives_304(client, aspirin):
    first = client.get(url(aspirin, "plot.png"))
    again = client.get(url(aspirin, "plot.png"), HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304 and again.content == b""


def test_304_reads_no_picture_blobs(client, aspirin):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    etag = client.get(url(aspirin, "molecule.png"))["ETag"]
    with CaptureQueriesContext(connection) as queries:
        again = client.get(url(aspirin, "molecule.png"), HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again["ETag"] == etag
    assert len(queries) == 1
    assert not any(blob in queries[0]["sql"] for blob in ("_png", "_svg"))


def test_last_modified_and_if_modified_since(client, aspirin):
    first = client.get(url(aspirin, "values.json"))
    assert first["Last-Modified"] and "max-age=3600" in first["Cache-Control"]
    assert "public" in first["Cache-Control"]
    again = client.get(url(aspirin, "values.json"), HTTP_IF_MODIFIED_SINCE=first["Last-Modified"])
    assert again.status_code == 304


def test_if_match_with_another_version_is_412(client, aspirin):
    response = client.get(url(aspirin, "values.csv"), HTTP_IF_MATCH='"not-this-version"')
    assert response.status_code == 412


def test_head_works_and_other_methods_are_refused(client, aspirin):
    head = client.head(url(aspirin, "plot.svg"))
    assert head.status_code == 200 and head["ETag"] and head.content == b""
    assert client.post(url(aspirin, "plot.svg")).status_code == 405


def test_csv_values_equal_stored(client, aspirin):
    response = client.get(url(aspirin, "values.csv") + "?precision=full")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == 1
    row = rows[0]
    assert row["canonical_smiles"] == aspirin.canonical_smiles
    assert row["title"] == "Aspirin"
    for output in aspirin.outputs:
        assert float(row[f"{output['label']} [{output['unit']}]"]) == output["value"]


def test_json_values_equal_stored(client, aspirin):
    data = json.loads(client.get(url(aspirin, "values.json")).content)
    assert data["outputs"] == aspirin.outputs
    assert data["model"]["weights_sha256"] == aspirin.model_hash
    assert data["canonical_smiles"] == aspirin.canonical_smiles


def test_zip_holds_every_file(client, aspirin):
    bundle = zipfile.ZipFile(io.BytesIO(client.get(url(aspirin, "bundle.zip")).content))
    names = {name.split("/", 1)[1] for name in bundle.namelist()}
    assert names == set(DOWNLOADS) - {"bundle.zip"}
    assert bundle.read("aspirin/molecule.png") == client.get(url(aspirin, "molecule.png")).content
    assert json.loads(bundle.read("aspirin/values.json"))["outputs"] == aspirin.outputs


def test_filename_falls_back_to_formula(client, make_prediction):
    untitled = make_prediction("CCO")
    response = client.get(url(untitled, "values.csv"))
    assert response["Content-Disposition"] == 'attachment; filename="c2h6o-values.csv"'


def test_unknown_download_is_404(client, aspirin):
    assert client.get(url(aspirin, "secrets.txt")).status_code == 404
