"""Applicability domain: verdicts and reasons, per output, stored with each prediction.

Real RDKit, the real shipped checkpoint and its training_set.csv; the probe list in
tests/data/domain_probes.csv (ions, metals, organometallics, salts, gases, polymers,
peptides, macrocycles and drug controls) measures the refusal and verdict rates.
"""

import csv
import io
from pathlib import Path

import pytest
from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator

from batches.models import BatchRow
from chemcore import chemistry, domain
from chemcore.domain import CARE, IN, OUT, Domain, OutputInfo, Thresholds, TrainingSet
from predictions import services
from predictions.models import Prediction

PROBES = Path(__file__).parents[1] / "data" / "domain_probes.csv"
INORGANIC = {"ion", "metal", "organometallic", "salt", "gas"}


def _judge(predictor, smiles: str) -> dict | str:
    """The stored domain result for `smiles`, or the refusal message."""
    try:
        return predictor.predict(smiles).domain
    except services.PredictionRefused as refusal:
        return str(refusal)


def _value(predictor, smiles: str, label: str) -> float:
    index = [spec.label for spec in predictor.outputs].index(label)
    return predictor.predict(smiles).values[index]


def test_paracetamol_is_in_domain_for_every_output(predictor):
    judged = _judge(predictor, "CC(=O)Nc1ccc(O)cc1")
    assert judged["verdict"] == IN and judged["reasons"] == []
    assert [o["verdict"] for o in judged["outputs"]] == [IN] * len(predictor.outputs)
    assert all(o["nearest_similarity"] >= 0.3 for o in judged["outputs"])


def test_aspirin_logd_is_flagged_by_its_uncertainty_not_by_distance(predictor):
    """Aspirin is ionised at pH 7.4 and its logD7.4 hard to predict: since v3.4.0 the error
    model (fitted on the served value's errors) raises σ there, and the verdict says why."""
    judged = _judge(predictor, "CC(=O)Oc1ccccc1C(=O)O")
    logd = judged["outputs"][1]
    assert logd["verdict"] == CARE and logd["nearest_similarity"] >= 0.3
    assert any("typical uncertainty" in r for r in logd["reasons"])
    assert judged["outputs"][0]["verdict"] == IN  # logS: measured in training


def test_water_is_out_of_domain_with_its_reasons(predictor):
    judged = _judge(predictor, "O")
    assert judged["verdict"] == OUT
    assert any("inorganic" in r for r in judged["reasons"])
    assert any("single heavy atom" in r for r in judged["reasons"])
    assert all(o["verdict"] == OUT for o in judged["outputs"])
    # A value beyond the training range is named (v1 predicts logS 1.99 for water, above all):
    # as outside the range, or past the assay's reporting limit where many measured molecules
    # sit on that bound (v3.2.0: water's RLM CLint 0.91, below the assay's lowest 1.03).
    for output, spec in zip(judged["outputs"], predictor.outputs):
        value = _value(predictor, "O", spec.label)
        outside = not spec.range["min"] <= value <= spec.range["max"]
        named = any(
            "outside the training range" in r or "value the assay reports" in r
            for r in output["reasons"]
        )
        assert named == outside


def test_inorganic_salt_is_out_of_domain(predictor):
    judged = _judge(predictor, "[Na+].[Na+].[O-]S([O-])(=O)=O")  # kept: sulfate, neutralised
    assert judged["verdict"] == OUT
    assert any("no carbon" in r for r in judged["reasons"])


def test_metal_is_out_of_domain(predictor):
    # The site refuses metals at the door, also those a training organometallic taught it
    # ([Sn]: AqSolDB's tin compounds) ...
    refused = _judge(predictor, "[Sn]")
    assert isinstance(refused, str) and "cannot read [Sn]" in refused and "metal" in refused
    # ... and the domain check, judging them directly, still calls them out of domain.
    rules = predictor.domain
    tin = rules.assess(Chem.MolFromSmiles("CC[Sn](CC)(CC)CC"), [0.0] * len(predictor.outputs))
    assert tin["verdict"] == OUT and any("contains a metal (Sn)" in r for r in tin["reasons"])
    cisplatin = rules.assess(Chem.MolFromSmiles("N.N.Cl[Pt]Cl"), [-2.0, -5.0])
    assert cisplatin["verdict"] == OUT
    assert any("metal (Pt)" in r for r in cisplatin["reasons"])


def test_large_peptide_is_out_of_domain_for_size_and_similarity(predictor):
    peptide = Chem.MolToSmiles(Chem.MolFromSequence("ACDEFGHIK"))
    judged = _judge(predictor, peptide)
    assert judged["verdict"] == OUT
    hydration = judged["outputs"][2]  # FreeSolv's molecules have at most 23 heavy atoms
    assert hydration["verdict"] == OUT
    assert any(r.startswith("far larger (71 heavy atoms") for r in hydration["reasons"])
    for output in judged["outputs"]:  # and every output says why it is not in domain
        assert output["verdict"] != IN and output["reasons"]


def test_verdict_is_the_worst_over_outputs_and_molecule():
    assert domain.worst([IN, CARE, IN]) == CARE
    assert domain.worst([CARE, OUT]) == OUT
    assert domain.worst([]) == IN
    assert domain.verdict_label(CARE) == "use with care"
    assert domain.verdict_label(None) == "not assessed"


def _small_training_set(tmp_path) -> TrainingSet:
    path = tmp_path / "training_set.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["smiles", "A", "B"])
        writer.writerows(
            [
                ["CCO", "0.5", ""],
                ["CCCO", "0.1", "-4.0"],
                ["CCCCO", "-0.4", ""],
                ["c1ccccc1", "", "-0.9"],
                ["CCCCCCCCO", "-2.4", "-4.1"],
            ]
        )
    return TrainingSet.from_csv(path, ["A", "B"])


def test_neighbours_come_in_similarity_order_with_measured_values(tmp_path):
    training = _small_training_set(tmp_path)
    query = Chem.MolFromSmiles("CCCCCO")
    neighbours = training.neighbours(query, k=3)
    fp = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048).GetFingerprint
    expected = sorted(
        (
            (DataStructs.TanimotoSimilarity(fp(query), fp(Chem.MolFromSmiles(s))), s)
            for s in training.smiles
        ),
        key=lambda pair: (-pair[0], pair[1]),
    )[:3]
    assert [n.smiles for n in neighbours] == [smiles for _, smiles in expected]
    assert [n.similarity for n in neighbours] == pytest.approx([sim for sim, _ in expected])
    measured = {"CCCCCCCCO": [-2.4, -4.1], "CCCCO": [-0.4, None], "CCCO": [0.1, -4.0]}
    assert all(n.values == measured[n.smiles] for n in neighbours if n.smiles in measured)
    by_smiles = {n.smiles: n for n in training.neighbours(Chem.MolFromSmiles("CCCO"), k=5)}
    assert by_smiles["CCCO"].similarity == 1.0 and by_smiles["CCCO"].values == [0.1, -4.0]


def test_similarities_equal_rdkits_bulk_tanimoto_on_the_shipped_training_set(predictor):
    """The inverted bit index (chemcore.similarity.BitIndex) gives RDKit's own numbers, to
    the bit, for drugs, small molecules and one with no bit in common with anything."""
    training = predictor.training
    queries = ["CC(=O)Oc1ccccc1C(=O)O", "O", "[He]", "CCO", "Cn1c(=O)c2c(ncn2C)n(C)c1=O"]
    queries += training.smiles[::997]
    for text in queries:
        mol = Chem.MolFromSmiles(text)
        fp = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048).GetFingerprint
        expected = DataStructs.BulkTanimotoSimilarity(fp(mol), training.fingerprints)
        assert training.similarities(mol).tolist() == expected, text


def test_similarity_is_measured_against_molecules_measured_for_that_output(tmp_path):
    training = _small_training_set(tmp_path)
    rules = Domain([OutputInfo("A"), OutputInfo("B")], training, Thresholds())
    judged = rules.assess(Chem.MolFromSmiles("c1ccccc1"), [0.0, 0.0])
    a, b = judged["outputs"]
    assert b["nearest_similarity"] == 1.0 and b["verdict"] == IN  # benzene measured for B
    assert a["nearest_similarity"] < 0.15 and a["verdict"] == OUT  # only alcohols for A
    assert "only 0.00 similar" in a["reasons"][0] or "similar (Tanimoto)" in a["reasons"][0]


def test_size_and_uncertainty_reasons(tmp_path):
    training = _small_training_set(tmp_path)
    outputs = [OutputInfo("A", typical_uncertainty=0.5), OutputInfo("B", typical_uncertainty=0.5)]
    rules = Domain(outputs, training)
    propanol = Chem.MolFromSmiles("CCCO")  # measured for both outputs, mid-sized
    calm = rules.assess(propanol, [0.0, 0.0], [0.1, 0.1])
    assert calm["verdict"] == IN
    shaky = rules.assess(propanol, [0.0, 0.0], [1.0, 1.6])
    assert [o["verdict"] for o in shaky["outputs"]] == [CARE, OUT]
    assert (
        "uncertainty (1.00) is 2.0× its typical uncertainty (0.50)"
        in shaky["outputs"][0]["reasons"][0]
    )
    big = rules.assess(Chem.MolFromSmiles("C" * 20 + "O"), [0.0, 0.0])
    assert all(o["verdict"] == OUT for o in big["outputs"])
    assert "far larger (21 heavy atoms" in big["outputs"][0]["reasons"][0]


def test_a_similarity_cut_of_zero_leaves_dissimilar_molecules_to_the_uncertainty_rule(tmp_path):
    """A checkpoint may drop the similarity rule for an output (chosen on validation where σ
    already grows for dissimilar molecules): then only σ and the 'out' cut judge them."""
    training = _small_training_set(tmp_path)
    isopropanol = Chem.MolFromSmiles("CC(C)O")  # a little like the alcohols measured for A
    default = Domain([OutputInfo("A"), OutputInfo("B")], training)
    sims = default.similarities(isopropanol)
    nearest_a = max(s for s, v in zip(sims, training.values[:, 0]) if v == v)
    assert Thresholds().similarity_out <= nearest_a < Thresholds().similarity_care
    assert default.assess(isopropanol, [0.0, 0.0])["outputs"][0]["verdict"] == CARE
    own = Domain([OutputInfo("A", similarity_care=0.0), OutputInfo("B")], training)
    calm = own.assess(isopropanol, [0.0, 0.0])["outputs"][0]
    assert calm["verdict"] == IN and calm["reasons"] == []
    dissimilar = Chem.MolFromSmiles("c1ccc2ccccc2c1")  # naphthalene: nothing like the alcohols
    assert own.assess(dissimilar, [0.0, 0.0])["outputs"][0]["verdict"] == OUT  # still out
    tight = Domain([OutputInfo("A", similarity_care=0.9), OutputInfo("B")], training)
    assert tight.assess(Chem.MolFromSmiles("CCC(C)O"), [0.0, 0.0])["outputs"][0]["verdict"] == CARE


def test_the_checkpoints_typical_uncertainty_is_the_unit_of_the_uncertainty_rule(tmp_path):
    """for_checkpoint: the manifest's typical uncertainty (σ's size on validation) measures
    σ; without one, the test RMSE does, as for older checkpoints."""
    from chemcore.network import OutputSpec

    specs = [OutputSpec(label="A", unit=""), OutputSpec(label="B", unit="")]
    tests = {"A": {"rmse": 0.5}, "B": {"rmse": 0.5}}
    own = domain.for_checkpoint(tmp_path, specs, tests, typical_uncertainty=[1.0, 0.0])
    assert [o.typical_uncertainty for o in own.outputs] == [1.0, 0.5]  # 0: not recorded
    older = domain.for_checkpoint(tmp_path, specs, tests)
    assert [o.typical_uncertainty for o in older.outputs] == [0.5, 0.5]
    ethanol = Chem.MolFromSmiles("CCO")
    assert own.assess(ethanol, [0.0, 0.0], [0.9, 0.9])["outputs"][0]["verdict"] == IN
    assert older.assess(ethanol, [0.0, 0.0], [0.9, 0.9])["outputs"][0]["verdict"] == CARE


def test_a_value_past_an_assays_reporting_limit_is_read_as_at_the_limit(tmp_path):
    """A bound many measured molecules sit on (an assay's floor, as Biogen's microsomal
    clearance has) is a reporting limit: a value just past it is in domain with a note saying
    how to read it; past an ordinary bound (the most extreme of spread-out values) it is out."""
    path = tmp_path / "training_set.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["smiles", "A", "B"])
        alcohols = ["C" * n + "O" for n in range(1, 13)]
        floor = [0.5] * 10 + [1.0, 2.0]  # ten at the assay's floor
        spread = [0.5 + 1.5 * i / 11 for i in range(12)]  # one at each end
        for smiles, a, b in zip(alcohols, floor, spread):
            writer.writerow([smiles, a, b])
    training = TrainingSet.from_csv(path, ["A", "B"])
    assert training.bound_counts(0) == (10, 1, 12) and training.bound_counts(1) == (1, 1, 12)
    bounds = {"min": 0.5, "max": 2.0}
    rules = Domain([OutputInfo("A", range=bounds), OutputInfo("B", range=bounds)], training)
    judged = rules.assess(Chem.MolFromSmiles("CCCO"), [0.4, 0.4])["outputs"]
    assert judged[0]["verdict"] == IN
    assert judged[0]["reasons"] == [
        "the predicted value 0.40 is below 0.50, the lowest value the assay reports (83 % of "
        "the molecules measured for it sit there): read it as at or below that limit"
    ]
    assert judged[0]["limit"] == {"side": "below", "value": 0.5}  # the page shows "≤"
    assert judged[1]["verdict"] == OUT and "outside the training range" in judged[1]["reasons"][0]
    assert "limit" not in judged[1]
    above = rules.assess(Chem.MolFromSmiles("CCCO"), [2.5, 2.5])["outputs"]
    assert [o["verdict"] for o in above] == [OUT, OUT]  # one molecule at the top: no limit


def test_without_training_set_only_the_molecule_and_range_checks_run(tmp_path):
    assert domain.load_training_set(tmp_path, ["A"]) is None
    rules = Domain([OutputInfo("A", range={"min": -1.0, "max": 1.0})])
    judged = rules.assess(Chem.MolFromSmiles("CCO"), [2.0])
    assert judged["outputs"][0]["nearest_similarity"] is None
    assert judged["verdict"] == OUT and "outside the training range" in str(judged)
    assert rules.neighbours(Chem.MolFromSmiles("CCO")) == []


def test_probe_list_rates(predictor):
    """≥ 40 probes: every [UNK] input refused, every metal/inorganic one refused or out,
    ≥ 90 % of the drug controls in domain or use-with-care."""
    with PROBES.open() as handle:
        probes = list(csv.DictReader(handle))
    assert len(probes) >= 40
    outcomes = {}
    for probe in probes:
        # What the model would read: the standardised molecule (counter-ions removed).
        kept = chemistry.parse_smiles(probe["smiles"], max_chars=1000).canonical_smiles
        has_unknown = bool(predictor.network.unknown_tokens(kept))
        judged = _judge(predictor, probe["smiles"])
        refused = isinstance(judged, str)
        outcomes[probe["name"]] = (probe["category"], has_unknown, refused, judged)
    unknown = [o for o in outcomes.values() if o[1]]
    assert unknown and all(refused for _, _, refused, _ in unknown)
    inorganic = [o for o in outcomes.values() if o[0] in INORGANIC]
    assert len(inorganic) >= 20
    flagged = [o for o in inorganic if o[2] or o[3]["verdict"] == OUT]
    assert len(flagged) == len(inorganic), [o for o in inorganic if o not in flagged]
    drugs = [o for o in outcomes.values() if o[0] == "drug"]
    trusted = [o for o in drugs if not o[2] and o[3]["verdict"] in (IN, CARE)]
    assert len(drugs) >= 20 and len(trusted) / len(drugs) >= 0.9


@pytest.mark.django_db
def test_domain_is_stored_with_form_and_batch_predictions(client, predictor):
    from batches import services as batch_services

    client.post("/", {"smiles": "O"})
    water = Prediction.objects.get(canonical_smiles="O")
    assert water.domain["verdict"] == OUT and water.domain["outputs"][1]["reasons"]  # logD7.4
    batch = batch_services.batch_create(text="O\nCC(=O)Nc1ccc(O)cc1\n")
    batch_services.batch_run(batch_pk=batch.pk)
    rows = list(BatchRow.objects.filter(batch_id=batch.pk).order_by("row_number"))
    assert rows[0].domain == water.domain  # reused prediction: its stored verdict
    assert rows[1].domain["verdict"] == IN
    assert Prediction.objects.get(canonical_smiles=rows[1].canonical_smiles).domain["verdict"] == IN


@pytest.mark.django_db
def test_assess_domain_command_judges_old_predictions_and_their_batch_rows(predictor):
    from django.core.management import call_command

    from batches import services as batch_services

    batch = batch_services.batch_create(text="O\nCCO\n")
    batch_services.batch_run(batch_pk=batch.pk)
    expected = {p.pk: p.domain for p in Prediction.objects.all()}
    # As stored before the domain check existed: no verdict anywhere.
    Prediction.objects.update(domain={}, verdict="")
    BatchRow.objects.update(domain={}, verdict="")
    other = Prediction.objects.get(canonical_smiles="CCO")
    Prediction.objects.filter(pk=other.pk).update(model_hash="0" * 64)  # another model's
    out = io.StringIO()
    call_command("assess_domain", stdout=out)
    assert "1 prediction(s) judged; 1 made by another model" in out.getvalue()
    water = Prediction.objects.get(canonical_smiles="O")
    # The same verdicts, reasons, values and uncertainties; what read-across blended the value
    # from needs inference and is gone with the cleared record.
    judged_before = expected[water.pk]
    assert any(o.get("read_across") for o in judged_before["outputs"])
    for output in judged_before["outputs"]:
        output.pop("read_across", None)
    assert water.domain == judged_before and water.verdict == OUT
    rows = {r.input_smiles: r for r in BatchRow.objects.filter(batch_id=batch.pk)}
    assert rows["O"].verdict == OUT and rows["O"].domain == water.domain
    assert rows["CCO"].verdict == "" and Prediction.objects.get(pk=other.pk).domain == {}


@pytest.mark.django_db
def test_redoing_the_domain_check_keeps_the_read_across_record(predictor):
    from predictions.services import domain_backfill, prediction_get_or_create

    made = prediction_get_or_create(text="CCCCCCO").prediction  # an alcohol: measured analogues
    before = Prediction.objects.get(pk=made.pk).domain
    blended = [o.get("read_across") is not None for o in before["outputs"]]
    assert blended == [bool(weight) for weight, _ in predictor.network.read_across] and any(blended)
    assert domain_backfill(redo=True)[0] == 1
    assert Prediction.objects.get(pk=made.pk).domain == before


def test_distance_term_is_added_to_the_uncertainty_far_from_the_training_molecules(tmp_path):
    """chemcore.uncertainty: sigma^2 = spread^2 + (distance_scale * (1 - nearest))^2."""
    training = _small_training_set(tmp_path)
    outputs = [OutputInfo("A", distance_scale=2.0), OutputInfo("B", distance_scale=2.0)]
    rules = Domain(outputs, training)
    near = rules.assess(Chem.MolFromSmiles("CCCO"), [0.0, 0.0], [0.3, 0.3])
    assert [o["uncertainty"] for o in near["outputs"]] == pytest.approx([0.3, 0.3])  # measured
    far = rules.assess(Chem.MolFromSmiles("c1ccncc1"), [0.0, 0.0], [0.3, 0.3])
    a = far["outputs"][0]
    expected = (0.3**2 + (2.0 * (1.0 - a["nearest_similarity"])) ** 2) ** 0.5
    assert a["uncertainty"] == pytest.approx(expected) and a["uncertainty"] > 1.5
    # Stored uncertainties already hold the term: re-judging them must not add it again.
    again = rules.assess(Chem.MolFromSmiles("c1ccncc1"), [0.0, 0.0], [1.7, 1.7], compose=False)
    assert [o["uncertainty"] for o in again["outputs"]] == [1.7, 1.7]
    plain = Domain([OutputInfo("A"), OutputInfo("B")], training)
    judged = plain.assess(Chem.MolFromSmiles("c1ccncc1"), [0.0, 0.0], [0.3, 0.3])
    assert [o["uncertainty"] for o in judged["outputs"]] == [0.3, 0.3]


def test_an_element_no_molecule_measured_for_an_output_holds_is_out_for_that_output(tmp_path):
    """Counted per output from training_set.csv: Se measured for A only, B for none."""
    path = tmp_path / "training_set.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["smiles", "A", "B"])
        rows = [[f"{'C' * n}O", "0.1", "0.2"] for n in range(1, 30)]
        writer.writerows([*rows, ["C[Se]C", "0.3", ""]])
    training = TrainingSet.from_csv(path, ["A", "B"])
    assert training.element_counts[0]["Se"] == 1 and "Se" not in training.element_counts[1]
    rules = Domain([OutputInfo("A"), OutputInfo("B")], training, Thresholds())
    judged = rules.assess(Chem.MolFromSmiles("CC[Se]CC"), [0.0, 0.0])
    a, b = judged["outputs"]
    assert b["verdict"] == OUT
    assert "contains Se, which no molecule measured for it contains" in b["reasons"]
    # A holds one Se molecule among 30 (over 1 %): not rare by the share rule.
    assert not any("Se" in reason for reason in a["reasons"])
    assert judged["verdict"] == OUT
