"""The RDKit profile: equal to RDKit's own functions, PAINS atoms right, stored once per
prediction (new ones and, through the migration, old ones), shown on the result page with
the alert atoms highlighted, counted on gallery cards, and carried by every export."""

import csv
import importlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.test import TestCase
from django.urls import reverse
from rdkit import Chem
from rdkit.Chem import QED, Crippen, Descriptors, rdMolDescriptors

from batches.files import archive
from batches.models import Batch, BatchRow
from chemreport import profile
from molfiles import tables
from predictions.models import Prediction

DRUGS = {
    "aspirin": "CC(=O)Oc1ccccc1C(=O)O",
    "caffeine": "Cn1c(=O)c2c(ncn2C)n(C)c1=O",
    "ibuprofen": "CC(C)Cc1ccc(C(C)C(=O)O)cc1",
}
# 5-benzylidene rhodanine: PAINS family A "ene_rhod_A" (Baell & Holloway 2010).
RHODANINE = "O=C1NC(=S)SC1=Cc1ccccc1"


def canonical(smiles: str) -> str:
    return Chem.MolToSmiles(Chem.MolFromSmiles(smiles))


@pytest.mark.parametrize("name", sorted(DRUGS))
def test_profile_values_equal_rdkits_own_functions(name):
    smiles = canonical(DRUGS[name])
    mol = Chem.MolFromSmiles(smiles)
    found = profile.profile_for_smiles(smiles)
    assert found["mw"] == Descriptors.MolWt(mol)
    assert found["exact_mass"] == Descriptors.ExactMolWt(mol)
    assert found["clogp"] == Crippen.MolLogP(mol)
    assert found["tpsa"] == rdMolDescriptors.CalcTPSA(mol)
    assert found["hbd"] == rdMolDescriptors.CalcNumLipinskiHBD(mol)
    assert found["hba"] == rdMolDescriptors.CalcNumLipinskiHBA(mol)
    assert found["rotatable_bonds"] == rdMolDescriptors.CalcNumRotatableBonds(mol)
    assert found["aromatic_rings"] == rdMolDescriptors.CalcNumAromaticRings(mol)
    assert found["fraction_sp3"] == rdMolDescriptors.CalcFractionCSP3(mol)
    assert found["qed"] == QED.qed(mol)
    assert found["lipinski_violations"] == 0 and found["veber_violations"] == 0
    json.dumps(found)  # stored as JSON: plain types only


def test_known_values_of_the_drugs():
    aspirin, caffeine, ibuprofen = (profile.profile_for_smiles(DRUGS[n]) for n in sorted(DRUGS))
    assert round(aspirin["mw"], 2) == 180.16 and round(aspirin["tpsa"], 1) == 63.6
    assert (aspirin["hbd"], aspirin["hba"]) == (1, 4)  # one OH; four O
    assert (caffeine["hbd"], caffeine["hba"], caffeine["aromatic_rings"]) == (0, 6, 2)
    # Ibuprofen is sold as the racemate: one stereocentre, unassigned in this SMILES.
    assert (ibuprofen["stereocentres"], ibuprofen["unassigned_stereocentres"]) == (1, 1)
    s_ibuprofen = profile.profile_for_smiles("CC(C)Cc1ccc([C@H](C)C(=O)O)cc1")
    assert (s_ibuprofen["stereocentres"], s_ibuprofen["unassigned_stereocentres"]) == (1, 0)
    assert caffeine["alerts"] == [] and ibuprofen["alerts"] == []


def test_rule_violations_name_the_broken_rules():
    fatty = profile.profile_for_smiles("C" * 40 + "C(=O)O")  # MW 621, cLogP ~14, 40 rotors
    assert fatty["lipinski_broken"] == ["mw", "clogp"] and fatty["lipinski_violations"] == 2
    assert fatty["veber_broken"] == ["rotatable_bonds"] and fatty["veber_violations"] == 1
    assert profile.rule_texts(profile.LIPINSKI, fatty["lipinski_broken"]) == [
        "MW ≤ 500 g/mol",
        "cLogP ≤ 5",
    ]


def test_pains_alert_found_on_a_known_pains_compound_with_the_right_atoms():
    smiles = canonical(RHODANINE)
    mol = Chem.MolFromSmiles(smiles)
    alerts = profile.profile_for_smiles(smiles)["alerts"]
    pains = [a for a in alerts if a["set"].startswith("PAINS")]
    assert [(a["set"], a["name"]) for a in pains] == [("PAINS_A", "ene_rhod_A(235)")]
    # The rhodanine ring, its carbonyl O, thione S and the exocyclic CH=: every atom but the
    # phenyl ring (the filter's SMARTS leaves the aryl group open).
    expected = sorted(a.GetIdx() for a in mol.GetAtoms() if not a.GetIsAromatic())
    assert len(expected) == 8 and pains[0]["atoms"] == expected
    thione = [a for a in alerts if a["name"] == "Thiocarbonyl_group"][0]
    assert sorted(mol.GetAtomWithIdx(i).GetSymbol() for i in thione["atoms"]) == ["C", "S"]
    assert {a["set"] for a in alerts} == {"PAINS_A", "Brenk", "NIH"}


def test_filter_catalog_is_built_once_per_process():
    assert profile.filter_catalog() is profile.filter_catalog()
    assert profile.filter_catalog().GetNumEntries() > 700  # PAINS A/B/C + Brenk + NIH


def test_alert_screen_reads_every_query_and_skips_most_filters():
    screen = profile.screen()
    assert screen.unscreened == 0  # every entry's query was read, so each can be skipped
    assert len(screen.entries) == profile.filter_catalog().GetNumEntries()
    benzene = Chem.MolFromSmiles("c1ccccc1")
    assert len(screen.candidates(benzene)) < len(screen.entries) / 4


def test_screened_alerts_equal_the_whole_catalogs_on_drugs_and_training_molecules():
    """The pattern-fingerprint screen only skips filters that cannot match: on 500 approved
    drugs and 500 training molecules it finds exactly what FilterCatalog.GetMatches finds (the
    same alerts, in the same order, with the same atoms)."""
    from django.conf import settings

    folder = Path(settings.PREDICTION_MODEL_DIR)
    with open(folder / "approved_drugs.csv", newline="", encoding="utf-8") as handle:
        smiles = [row["smiles"] for row in csv.DictReader(handle)][::5][:500]
    with open(folder / "training_set.csv", newline="", encoding="utf-8") as handle:
        smiles += [row["smiles"] for row in csv.DictReader(handle)][::20][:500]
    mols = [m for m in map(Chem.MolFromSmiles, smiles) if m is not None]
    assert len(mols) > 800
    found = [profile.structural_alerts(mol) for mol in mols]
    assert found == [profile.structural_alerts_unscreened(mol) for mol in mols]
    assert sum(bool(alerts) for alerts in found) > 300  # many molecules carry alerts


def test_a_helpers_kept_molecules_give_the_same_descriptors_and_profiles(predictor):
    """A batch helper reads each molecule once for its descriptors and keeps it for its
    profile: the numbers are those of molecules read afresh for each."""
    from chemcore import descriptors

    folder = Path(settings_model_dir())
    with open(folder / "approved_drugs.csv", newline="", encoding="utf-8") as handle:
        smiles = [row["smiles"] for row in csv.DictReader(handle)][::20][:120]
    smiles += ["CCO", "CCO"]  # one asked for twice: read again the second time
    names = predictor.descriptor_names
    rows = profile.descriptor_rows(smiles, names)
    assert np.array_equal(rows, descriptors.from_smiles(smiles, names))
    assert profile.profiles_for_smiles(smiles) == [profile.profile_for_smiles(s) for s in smiles]
    assert profile._KEPT == {}  # each kept molecule was handed over once


def settings_model_dir():
    from django.conf import settings

    return settings.PREDICTION_MODEL_DIR


def test_profile_is_stored_when_a_prediction_is_made(make_prediction):
    prediction = make_prediction(DRUGS["caffeine"])
    prediction.refresh_from_db()
    assert prediction.profile == profile.profile_for_smiles(prediction.canonical_smiles)


def test_the_migration_backfills_stored_predictions_and_their_batch_rows(make_prediction):
    prediction = make_prediction(RHODANINE)
    batch = Batch.objects.create(filename="old.csv", input_path="", file_format="csv")
    BatchRow.objects.create(batch=batch, row_number=1, status="ok", prediction=prediction)
    Prediction.objects.update(profile={})  # as stored before the profile existed
    migration = importlib.import_module("predictions.migrations.0004_profile")
    # The models as that migration knew them (BatchRow was still in `predictions` then).
    state = MigrationLoader(connection).project_state(("predictions", "0004_profile"))
    migration.backfill(state.apps, None)
    prediction.refresh_from_db()
    assert prediction.profile == profile.profile_for_smiles(prediction.canonical_smiles)
    assert BatchRow.objects.get().profile == prediction.profile


def test_result_page_shows_the_panel_and_highlights_alert_atoms(client, make_prediction):
    prediction = make_prediction(RHODANINE)
    html = client.get(prediction.get_absolute_url()).content.decode()
    assert "computed (RDKit), exact" in html
    assert "ene_rhod_A(235)" in html and "PAINS_A" in html
    assert "0, 1, 2, 3, 4, 5, 6, 7" in html  # the atoms, as listed in the alert table
    assert "MW ≤ 500 g/mol" in html and "TPSA ≤ 140 Å²" in html  # the rules, stated
    assert f"{prediction.profile['tpsa']:.1f}" in html
    svg_url = reverse("predictions:download", args=[prediction.public_id, "alerts.svg"])
    assert svg_url in html
    svg = client.get(svg_url)
    assert svg.status_code == 200 and svg["Content-Type"] == "image/svg+xml"
    assert "#FFB74C" in svg.content.decode().upper()  # the highlight colour


def test_a_molecule_without_alerts_says_so_and_has_no_highlight(client, make_prediction):
    prediction = make_prediction(DRUGS["caffeine"])
    html = client.get(prediction.get_absolute_url()).content.decode()
    assert "No PAINS, Brenk or NIH alert matched." in html
    svg_url = reverse("predictions:download", args=[prediction.public_id, "alerts.svg"])
    assert f'<img src="{svg_url}"' not in html  # no highlighted drawing on the page
    svg = client.get(svg_url)  # the download exists for every molecule: plain without alerts
    assert "#FFB74C" not in svg.content.decode().upper()


def test_gallery_cards_show_the_alert_count_where_not_zero(client, make_prediction):
    make_prediction(RHODANINE, title="Benzylidene rhodanine")
    make_prediction(DRUGS["caffeine"], title="Caffeine")
    html = client.get(reverse("predictions:gallery")).content.decode()
    cards = html.split('<li class="card">')[1:]
    rhodanine = next(card for card in cards if "Benzylidene rhodanine" in card)
    caffeine = next(card for card in cards if "Caffeine" in card)
    assert "4 structural alerts" in rhodanine and "structural alert" not in caffeine


def test_values_exports_carry_the_profile(client, make_prediction):
    prediction = make_prediction(RHODANINE)
    base = prediction.get_absolute_url()
    data = json.loads(client.get(base + "values.json").content)
    assert data["profile"] == prediction.profile  # full precision
    row = next(csv.DictReader(io.StringIO(client.get(base + "values.csv").content.decode())))
    assert float(row["rdkit_mw"]) == round(prediction.profile["mw"], 2)
    assert float(row["rdkit_exact_mass"]) == round(prediction.profile["exact_mass"], 4)
    assert row["rdkit_alert_count"] == "4"
    assert "PAINS_A ene_rhod_A(235) [atoms 0 1 2 3 4 5 6 7]" in row["rdkit_alerts"]
    full = client.get(base + "values.csv?precision=full").content.decode()
    row = next(csv.DictReader(io.StringIO(full)))
    assert float(row["rdkit_mw"]) == prediction.profile["mw"]


def test_api_prediction_carries_the_profile(client, make_prediction):
    prediction = make_prediction(RHODANINE)
    data = client.get(f"/api/v1/predictions/{prediction.public_id}").json()
    assert data["profile"] == prediction.profile


def _batch(client, queue, text: str) -> Batch:
    upload = SimpleUploadedFile("screen.csv", text.encode())
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert client.post(reverse("batches:list"), {"file": upload}).status_code == 302
    queue()
    return Batch.objects.get()


def _download(client, batch, name, query=""):
    url = reverse("batches:download", args=[batch.public_id, name]) + query
    return b"".join(client.get(url).streaming_content).decode()


def test_batch_worker_stores_the_profile_and_every_batch_export_carries_it(
    db, client, queue, predictor
):
    batch = _batch(client, queue, f"id,smiles\nR-1,{RHODANINE}\nC-2,{DRUGS['caffeine']}\nX,C1CC\n")
    rows = list(BatchRow.objects.filter(batch=batch).order_by("row_number"))
    for row in rows[:2]:
        assert row.profile == profile.profile_for_smiles(row.canonical_smiles)
        assert Prediction.objects.get(pk=row.prediction_id).profile == row.profile
    assert rows[2].profile == {}

    table = list(csv.DictReader(io.StringIO(_download(client, batch, "results.csv"))))
    assert set(tables.profile_header()) <= set(table[0])
    assert table[0]["rdkit_alert_count"] == "4" and table[1]["rdkit_alert_count"] == "0"
    assert float(table[1]["rdkit_tpsa"]) == round(rows[1].profile["tpsa"], 1)
    assert table[2]["rdkit_mw"] == ""  # the failed row

    supplier = Chem.SDMolSupplier()
    supplier.SetData(_download(client, batch, "results.sdf"))
    records = list(supplier)
    assert float(records[0].GetProp("rdkit_clogp")) == rows[0].profile["clogp"]
    assert "ene_rhod_A(235)" in records[0].GetProp("rdkit_alerts")

    client.post(reverse("batches:zip", args=[batch.public_id]))
    queue()
    with zipfile.ZipFile(archive.zip_file(batch=batch)) as bundle:
        packed = list(csv.DictReader(io.StringIO(bundle.read("results.csv").decode())))
    assert packed == table


def test_a_listed_prediction_still_pending_gets_its_profile_on_the_gallery_and_home(
    client, make_prediction
):
    """A curator can list a batch's prediction before the batch profiled it: its card must not
    read as "no alerts"; the list and its own page compute the profile in memory, and store
    nothing (reads never write): the periodic fill stores it."""
    stored = make_prediction(RHODANINE, title="Benzylidene rhodanine")
    Prediction.objects.filter(pk=stored.pk).update(profile={}, profile_pending=True)
    for url in (reverse("predictions:gallery"), reverse("predictions:home")):
        html = client.get(url).content.decode()
        card = next(c for c in html.split('<li class="card">')[1:] if "rhodanine" in c)
        assert "4 structural alerts" in card
    page = client.get(reverse("predictions:detail", args=[stored.public_id])).content.decode()
    assert "structural alert" in page
    stored.refresh_from_db()
    assert stored.profile_pending and stored.profile == {}

    from batches.tasks import fill_left_over_profiles

    fill_left_over_profiles.call_local()
    stored.refresh_from_db()
    assert not stored.profile_pending and stored.profile["alerts"]
