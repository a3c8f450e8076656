"""Structure search (predictions/search.py) in the gallery and in a batch's results.

Real RDKit, real model, real SQLite: the expected answers are computed here by brute force
(full RDKit parsing, HasSubstructMatch, BulkTanimotoSimilarity) and compared with the pages.
"""

import re

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.test import Client, TestCase
from django.urls import reverse
from rdkit import Chem, DataStructs

from batches.models import Batch, BatchRow
from chemcore import chemistry
from chemreport import matching
from predictions import search
from predictions.models import Prediction

pytestmark = pytest.mark.django_db

ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"
SMILES = [
    ASPIRIN,
    "OC(=O)c1ccccc1O",  # salicylic acid
    "CC(=O)Nc1ccc(O)cc1",  # paracetamol
    "CC(C)Cc1ccc(C(C)C(=O)O)cc1",  # ibuprofen
    "NS(=O)(=O)c1ccc(N)cc1",  # sulfanilamide
    "Cc1ccc(S(N)(=O)=O)cc1",
    "c1ccc2ccccc2c1",
    "CCO",
    "CCCCO",
    "C1CCNCC1",
    "CN1CCCC1c1cccnc1",  # nicotine
    "O=C(O)c1ccccc1",  # benzoic acid
]
PRIVATE = "CC(=O)Oc1ccccc1C(=O)OC"  # an aspirin analogue only ever predicted privately
ID = re.compile(r'href="/predictions/([a-z2-7]{24})/"')


@pytest.fixture
def stored(store_predictions):
    return store_predictions(SMILES)


@pytest.fixture
def private(store_predictions):
    return store_predictions([PRIVATE], public=False)[0]


def _found(client, **params) -> list[str]:
    """Public ids of the gallery cards, in page order (one big page)."""
    response = client.get(reverse("predictions:gallery"), {"page_size": 96, **params})
    assert response.status_code == 200, response.content.decode()[:2000]
    ids = ID.findall(response.content.decode())
    return list(dict.fromkeys(ids))


def test_fingerprints_are_stored_at_creation_as_the_backfill_computes_them(stored):
    for prediction in stored:
        expected = matching.fingerprint_fields_of(prediction.canonical_smiles)
        assert expected["morgan_bits"] > 0
        assert bytes(prediction.morgan_fp) == expected["morgan_fp"]
        assert bytes(prediction.pattern_fp) == expected["pattern_fp"]
        assert prediction.morgan_bits == expected["morgan_bits"]


def test_migration_backfill_fills_predictions_and_their_batch_rows(stored):
    from importlib import import_module

    backfill = import_module("predictions.migrations.0005_search").backfill_fingerprints
    aspirin = stored[0]
    batch = Batch.objects.create(filename="x.smi", input_path="/nonexistent", file_format="smi")
    BatchRow.objects.create(batch=batch, row_number=1, status="ok", prediction=aspirin)
    Prediction.objects.update(morgan_fp=None, morgan_bits=None, pattern_fp=None)
    # The models as that migration knew them (BatchRow was still in `predictions` then).
    backfill(MigrationLoader(connection).project_state(("predictions", "0005_search")).apps, None)
    expected = matching.fingerprint_fields_of(aspirin.canonical_smiles)
    for record in (Prediction.objects.get(pk=aspirin.pk), BatchRow.objects.get(batch=batch)):
        assert bytes(record.morgan_fp) == expected["morgan_fp"]
        assert bytes(record.pattern_fp) == expected["pattern_fp"]
        assert record.morgan_bits == expected["morgan_bits"]
    assert not Prediction.objects.filter(morgan_fp__isnull=True).exists()


def test_an_equivalent_smiles_finds_the_stored_molecule(client, stored):
    aspirin = stored[0]
    found = _found(client, q="OC(=O)c1ccccc1OC(C)=O")
    assert found == [aspirin.public_id]
    assert _found(client, q="aspirin") == []  # no title: names search titles only
    Prediction.objects.filter(pk=aspirin.pk).update(title="Aspirin")
    assert _found(client, q="aspir") == [aspirin.public_id]  # plain text still works


@pytest.mark.parametrize(
    ("pattern", "reader"),
    [
        ("c1ccccc1C(=O)O", Chem.MolFromSmiles),  # benzoic acids
        ("S(N)(=O)=O", Chem.MolFromSmiles),  # sulfonamides
        ("[CX3](=O)[OX2H1]", Chem.MolFromSmarts),  # carboxylic acids
        ("[r6;!a]", Chem.MolFromSmarts),  # saturated six-ring atoms: needs real ring sizes
        ("[#7]", Chem.MolFromSmarts),  # valid SMILES too, but a radical N as a molecule
        ("C1=CC=CC=C1", Chem.MolFromSmiles),  # Kekulé benzene, read as SMILES: aromatic
    ],
)
def test_substructure_finds_all_and_only_the_matches(client, stored, pattern, reader):
    query = reader(pattern)
    expected = {
        p.public_id
        for p in stored
        if Chem.MolFromSmiles(p.canonical_smiles).HasSubstructMatch(query)
    }
    assert expected and len(expected) < len(stored)  # a test that can fail both ways
    found = _found(client, q=pattern, mode="substructure")
    assert set(found) == expected
    html = client.get(reverse("predictions:gallery"), {"q": pattern, "mode": "substructure"})
    html = html.content.decode()
    assert html.count('class="search-match"') == len(expected)  # highlighted drawings
    assert "<?xml" not in html and "<svg" in html


def test_substructure_highlight_marks_the_matching_atoms():
    pattern = search.substructure_query("C(=O)O")
    svg = search.highlight_svg("CC(=O)Oc1ccccc1C(=O)O", pattern)
    plain = search.highlight_svg("CCCC", pattern)
    # RDKit draws highlighted atoms and bonds with its highlight colour; no match, no colour.
    assert "#FF7F7F" in svg and "#FF7F7F" not in plain


def test_similarity_is_ordered_and_thresholded(client, stored):
    query = ASPIRIN
    query_fp = chemistry.fingerprint(chemistry.parse_smiles(query, max_chars=500).mol)
    fps = [chemistry.fingerprint(Chem.MolFromSmiles(p.canonical_smiles)) for p in stored]
    scores = DataStructs.BulkTanimotoSimilarity(query_fp, fps)
    for threshold in (0.2, 0.4):
        expected = sorted(
            ((s, p.public_id) for s, p in zip(scores, stored) if s >= threshold),
            key=lambda item: -item[0],
        )
        found = _found(client, q=query, mode="similar", similarity=threshold)
        assert set(found) == {pid for _, pid in expected}
        assert 1 < len(found) < len(stored)
        by_id = dict((pid, s) for s, pid in expected)
        found_scores = [by_id[pid] for pid in found]
        assert found_scores == sorted(found_scores, reverse=True)
    assert found[0] == stored[0].public_id  # aspirin itself, similarity 1
    html = client.get(reverse("predictions:gallery"), {"q": query, "mode": "similar"})
    assert "Similarity 1.00" in html.content.decode()


def test_private_molecules_never_appear_in_any_search(client, stored, private):
    for params in (
        {"q": PRIVATE},
        {"q": private.canonical_smiles},
        {"q": "COC(=O)", "mode": "substructure"},
        {"q": "C(=O)O", "mode": "substructure"},
        {"q": PRIVATE, "mode": "similar", "similarity": 0.1},
    ):
        found = _found(client, **params)
        assert private.public_id not in found, params
    # The private one is a near neighbour of aspirin: the count must not give it away either.
    response = client.get(reverse("predictions:gallery"), {"q": PRIVATE, "mode": "similar"})
    count = int(re.search(r"(\d+) prediction", response.content.decode()).group(1))
    assert count == len(_found(client, q=PRIVATE, mode="similar"))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"q": "[C;", "mode": "substructure"}, "Not a valid SMILES or SMARTS pattern"),
        ({"q": "c1cc(", "mode": "substructure"}, "Not a valid SMILES or SMARTS pattern"),
        ({"q": "[C;X4]", "mode": "similar"}, "Similarity search needs one molecule"),
    ],
)
def test_a_bad_query_gets_a_clear_message_not_a_500(client, stored, params, message):
    response = client.get(reverse("predictions:gallery"), params)
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html and 'role="alert"' in html
    assert 'class="card"' not in html


def _batch(client, queue, lines: list[str]) -> Batch:
    upload = SimpleUploadedFile("set.smi", "\n".join(lines).encode())
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(reverse("batches:list"), {"file": upload})
    assert response.status_code == 302
    queue()
    return Batch.objects.get(public_id=response["Location"].split("/")[-2])


def _row_numbers(client, batch: Batch, **params) -> list[int]:
    url = reverse("batches:rows", args=[batch.public_id])
    html = client.get(url, params).content.decode()
    return [int(n) for n in re.findall(r'<tr class="row-\w+">\s*<td>(\d+)</td>', html)]


def test_batch_results_searched_by_structure(client, queue, predictor):
    lines = [f"{smiles} m{n}" for n, smiles in enumerate(SMILES, 1)] + ["not-a-smiles bad"]
    batch = _batch(client, queue, lines)
    assert batch.status == Batch.Status.DONE
    rows = BatchRow.objects.filter(batch=batch, status="ok")
    assert not rows.filter(morgan_fp__isnull=True).exists()  # copied from the predictions

    acids = Chem.MolFromSmarts("[CX3](=O)[OX2H1]")
    expected = [
        n for n, s in enumerate(SMILES, 1) if Chem.MolFromSmiles(s).HasSubstructMatch(acids)
    ]
    assert _row_numbers(client, batch, q="[CX3](=O)[OX2H1]", mode="substructure") == expected
    assert _row_numbers(client, batch, q="OC(=O)c1ccccc1OC(C)=O") == [1]  # exact structure
    assert _row_numbers(client, batch, q="m1") == [1, 10, 11, 12]  # IDs as text
    similar = _row_numbers(client, batch, q=ASPIRIN, mode="similar", similarity=0.3)
    assert similar[0] == 1 and 1 < len(similar) < len(SMILES)
    url = reverse("batches:rows", args=[batch.public_id])
    bad = client.get(url, {"q": "[C;", "mode": "substructure"})
    assert bad.status_code == 200 and "Not a valid SMILES or SMARTS pattern" in bad.content.decode()


def test_similarity_results_follow_publishing_and_hiding(client, stored, private):
    """The process keeps the gallery's fingerprints; a change to the listing is seen at once."""
    params = {"q": PRIVATE, "mode": "similar", "similarity": 0.3}
    before = _found(client, **params)
    assert private.public_id not in before and stored[0].public_id in before
    private.public = True
    private.save()
    assert private.public_id in _found(client, **params)  # published: now it is listed
    curator = Client()
    curator.force_login(User.objects.create_superuser("curator", "c@example.org", "pw-tests"))
    hide = {"action": "hide", "_selected_action": [str(stored[0].pk)]}
    assert curator.post("/admin/predictions/prediction/", hide).status_code == 302
    assert stored[0].public_id not in _found(client, **params)  # hidden by a curator
