"""Read-across (chemcore.readacross): the ensemble's value blended with its nearest measured
molecules, fitted on validation by training, applied by the site's domain check, and the same
number on both sides."""

import csv
import json

import numpy as np
import pytest
from rdkit import Chem

from chemcore.checkpoint import EnsembleManifest, read_manifest, write_manifest
from chemcore.domain import Domain, OutputInfo, TrainingSet
from chemcore.readacross import blend, neighbour_mean, top_k


def test_neighbour_mean_weighs_the_k_most_similar_by_similarity():
    sims = np.array([0.2, 0.9, 0.5, 0.0, 0.5, 0.1])
    values = np.array([10.0, 1.0, 2.0, 99.0, 3.0, 7.0])
    near, nearest = neighbour_mean(sims, values, k=3)
    assert nearest == 0.9
    assert near == pytest.approx((0.9 * 1 + 0.5 * 2 + 0.5 * 3) / 1.9)
    # Ties at the edge keep the reference order: index 2 before index 4.
    assert neighbour_mean(sims, values, k=2)[0] == pytest.approx((0.9 * 1 + 0.5 * 2) / 1.4)
    # A matrix gives, row by row, what single molecules give.
    rows = np.array([sims, sims[::-1]])
    means, tops = neighbour_mean(rows, values, k=3)
    assert means[0] == pytest.approx(near) and tops[1] == 0.9
    assert means[1] == pytest.approx(neighbour_mean(sims[::-1], values, k=3)[0])
    # Nothing similar at all: every neighbour still counts (equally), no division by zero.
    assert neighbour_mean(np.zeros(4), np.array([1.0, 2.0, 3.0, 4.0]), k=2)[0] == 1.5


def test_top_k_is_the_stable_sort_s_first_k_ties_included():
    """The partial selection picks what a full stable sort would, ties in index order
    (training's matrix path sorts fully: both must choose the same neighbours)."""
    rng = np.random.default_rng(0)
    for size in (1, 3, 5, 6, 50, 2000):
        for levels in (3, 20, 10_000):  # few distinct values: many ties at the k-th
            sims = rng.integers(0, levels, size) / levels
            for k in (1, 5):
                expected = np.argsort(-sims, kind="stable")[:k]
                assert top_k(sims, k).tolist() == expected.tolist()
    sims = np.array([0.5, 0.9, 0.5, 0.5, 0.9, 0.1, 0.5])
    assert top_k(sims, 3).tolist() == [1, 4, 0]


def test_blend_trusts_a_close_analogue_more():
    assert blend(2.0, 4.0, 0.9, 0.0, 2.0) == 2.0  # weight 0: the model alone
    assert blend(2.0, 4.0, 1.0, 1.0, 2.0) == 4.0  # an exact measured match, full weight
    close, far = blend(2.0, 4.0, 0.9, 1.0, 2.0), blend(2.0, 4.0, 0.3, 1.0, 2.0)
    assert close == pytest.approx(2.0 + 2.0 * 0.81) and far == pytest.approx(2.0 + 2.0 * 0.09)


def test_manifest_carries_the_blend_and_older_manifests_have_none(tmp_path):
    write_manifest(tmp_path, EnsembleManifest(members=["m0"], uncertainty_scale=[1.0, 2.0]))
    old = read_manifest(tmp_path)
    assert not old.reads_across and "read_across" not in (tmp_path / "ensemble.json").read_text()
    manifest = EnsembleManifest(
        members=["m0"], read_across_weight=[0.0, 0.7], read_across_power=[1.0, 2.0]
    )
    write_manifest(tmp_path, manifest)
    assert read_manifest(tmp_path) == manifest and manifest.reads_across
    data = json.loads((tmp_path / "ensemble.json").read_text())
    data["read_across"]["power"] = [1.0]
    (tmp_path / "ensemble.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match="one power per weight"):
        read_manifest(tmp_path)


def test_fit_picks_the_blend_validation_supports():
    pytest.importorskip("scipy")
    from training.evaluate import fit_read_across

    rng = np.random.RandomState(0)
    y = rng.normal(0, 1, 400)
    model = y + rng.normal(0, 0.5, 400)
    nearest = rng.uniform(0.2, 1.0, 400)
    # Neighbours that know the answer when close, and nothing when far: a weight growing with s.
    near = np.where(nearest > 0.6, y, rng.normal(0, 1, 400))
    weight, power = fit_read_across(y, model, near, nearest)
    assert weight >= 0.5 and power > 1
    blended = blend(model, near, nearest, weight, power)
    assert np.sqrt(np.mean((blended - y) ** 2)) < np.sqrt(np.mean((model - y) ** 2))
    # Neighbours that err the model's way, three times as far: the model alone.
    assert fit_read_across(y, model, y + 3 * (model - y), nearest)[0] == 0.0


def _training_set(tmp_path) -> TrainingSet:
    path = tmp_path / "training_set.csv"
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows(
            [
                ["smiles", "A", "B"],
                ["CCO", "0.5", ""],
                ["CCCO", "0.1", ""],
                ["CCCCO", "-0.4", ""],
                ["c1ccccc1", "", "-0.9"],
            ]
        )
    return TrainingSet.from_csv(path, ["A", "B"])


def test_domain_check_blends_the_value_and_records_what_it_blended(tmp_path):
    training = _training_set(tmp_path)
    rules = Domain([OutputInfo("A", read_across=(1.0, 2.0)), OutputInfo("B")], training)
    mol = Chem.MolFromSmiles("CCCO")  # measured for A (0.1); B has read-across off
    judged = rules.assess(mol, [3.0, 3.0], [0.2, 0.2])
    a, b = judged["outputs"]
    sims = training.similarities(mol)[:3]
    near, nearest = neighbour_mean(sims, np.array([0.5, 0.1, -0.4]))
    assert nearest == 1.0  # itself
    assert a["value"] == pytest.approx(near)  # w = 1 · 1²: the neighbours' mean
    assert a["read_across"] == {"model_value": 3.0, "neighbour_mean": near, "weight": 1.0}
    assert b["value"] == 3.0 and "read_across" not in b
    # The manifest's k: with one neighbour, a measured molecule gets its own value back.
    one = Domain(
        [OutputInfo("A", read_across=(1.0, 2.0)), OutputInfo("B")], training, read_across_k=1
    )
    assert one.assess(mol, [3.0, 3.0], None)["outputs"][0]["value"] == pytest.approx(0.1)
    # Stored values are final: judging them again leaves them as they are.
    again = rules.assess(mol, [a["value"], b["value"]], [0.2, 0.2], compose=False)
    assert [o["value"] for o in again["outputs"]] == [a["value"], 3.0]
    assert all("read_across" not in o for o in again["outputs"])
    # A molecule unlike any measured one keeps (almost all of) the model's value.
    far = rules.assess(Chem.MolFromSmiles("c1ccncc1"), [3.0, 3.0], None)["outputs"][0]
    assert far["read_across"]["weight"] < 0.05 and abs(far["value"] - 3.0) < 0.2


@pytest.mark.django_db
def test_site_stores_the_value_training_evaluates(predictor):
    """The number in the card (training.evaluate) is the number the site stores."""
    pytest.importorskip("scipy")
    from predictions.services import prediction_get_or_create
    from training.evaluate import predict_ensemble

    assert predictor.network.read_across and any(w for w, _ in predictor.network.read_across)
    smiles = ["CCCCCCCCO", "CC(=O)Nc1ccc(O)cc1", "c1ccc2ccccc2c1"]
    stored = [prediction_get_or_create(text=s).prediction for s in smiles]
    values, sigmas = predict_ensemble(predictor.directory, [p.canonical_smiles for p in stored])
    model = predictor.network.predict([p.canonical_smiles for p in stored])
    blended = 0
    for prediction, row, sigma, raw in zip(stored, values, sigmas, model):
        assert [o["value"] for o in prediction.outputs] == pytest.approx(row, abs=1e-4)
        assert [o["uncertainty"] for o in prediction.outputs] == pytest.approx(sigma, abs=1e-4)
        for output, (weight, _), own in zip(
            prediction.domain["outputs"], predictor.network.read_across, raw
        ):
            if weight:
                assert output["read_across"]["model_value"] == pytest.approx(own, abs=1e-6)
                blended += output["value"] != pytest.approx(own, abs=1e-6)
    assert blended  # the blend moved at least one stored value away from the predictor's


@pytest.mark.django_db
def test_result_page_says_what_read_across_did(client, predictor):
    from chemreport.units import output_decimals
    from predictions.services import prediction_get_or_create

    prediction = prediction_get_or_create(text="CCCCCCCCO").prediction  # octanol, measured
    html = client.get(prediction.get_absolute_url()).content.decode()
    outputs = prediction.domain["outputs"]
    moved = [o for o in outputs if (o.get("read_across") or {}).get("weight", 0) >= 0.01]
    assert moved and "Values pulled toward measured analogues" in html
    for output in outputs:  # a pull under 1 % is not worth a line
        if output.get("read_across") and output not in moved:
            assert f"{output['label']}: the model gave" not in html
    for output in moved:
        d = output_decimals(output["label"])
        across = output["read_across"]
        assert (
            f"{output['label']}: the model gave {across['model_value']:.{d}f} and the five most "
            f"similar molecules measured for it average {across['neighbour_mean']:.{d}f}; the "
            f"value shown, {output['value']:.{d}f}, lies {round(100 * across['weight'])} % of the "
            "way toward them." in html
        )


def test_only_a_weight_worth_telling_is_told():
    from predictions.templatetags.trust import read_across

    stored = {
        "outputs": [
            {"label": "A", "read_across": {"weight": 0.005}},
            {"label": "B", "read_across": {"weight": 0.4}},
            {"label": "C"},
        ]
    }
    assert [o["label"] for o in read_across(stored)] == ["B"]
    assert read_across({}) == [] and read_across(None) == []


@pytest.mark.django_db
def test_model_page_and_api_say_how_a_value_is_made(client, predictor):
    """The shares of the descriptor model and read-across, per output, as the manifest has
    them: on the model page and in GET /api/v1/model."""
    manifest = read_manifest(predictor.directory)
    html = client.get("/model/").content.decode()
    assert "How a value is made" in html
    assert ("the graph network" in html) == manifest.blends_graph
    outputs = client.get("/api/v1/model").json()["outputs"]
    for index, (spec, output) in enumerate(zip(predictor.outputs, outputs)):
        beta = manifest.descriptor_weight[index]
        weight = manifest.read_across_weight[index]
        assert output["descriptor_weight"] == (beta or None)
        network = manifest.mlp_weight[index] if beta and manifest.mlp_weight else 0.0
        assert output["network_weight"] == (network or None)
        graph = manifest.graph_weight[index] if beta and manifest.graph_weight else 0.0
        assert output["graph_weight"] == (graph or None)
        if weight:
            power = manifest.read_across_power[index]
            assert output["read_across"] == {"weight": weight, "power": power}
        else:
            assert output["read_across"] is None
        share = f"{round(100 * beta)} % descriptor model" if beta else "members only"
        parts = [f"the descriptor network {round(100 * network)} %"] if network else []
        parts += [f"the graph network {round(100 * graph)} %"] if graph else []
        if parts:
            share += f" (in it: {', then '.join(parts)})"
        assert f"{spec.label}: {share}" in html
