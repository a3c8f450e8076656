"""The shipped default checkpoint: loads with plain transformers, behaves chemically
sensibly, carries the config keys the site reads, and its recorded metrics are
reproducible from the weights."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from predictions.training.pipeline import CHECKPOINT_FILES

CKPT = Path(__file__).resolve().parents[1] / "checkpoints" / "default"
LOGS, DG = 0, 1


@pytest.fixture(scope="module")
def loaded():
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.set_num_threads(min(2, torch.get_num_threads()))
    tok = AutoTokenizer.from_pretrained(CKPT)
    model = AutoModelForSequenceClassification.from_pretrained(CKPT).eval()
    return tok, model


def predict(loaded, smiles):
    from rdkit import Chem

    tok, model = loaded
    can = [Chem.MolToSmiles(Chem.MolFromSmiles(s)) for s in smiles]
    enc = tok(can, padding=True, return_tensors="pt", return_token_type_ids=False)
    with torch.no_grad():
        return model(**enc).logits.numpy()


def test_files_and_size():
    for f in CHECKPOINT_FILES:
        assert (CKPT / f).is_file(), f
    assert (CKPT / "model.safetensors").stat().st_size < 25e6


def test_config_keys_for_the_site():
    conf = json.loads((CKPT / "config.json").read_text())
    assert conf["problem_type"] == "regression"
    labels = [conf["id2label"][str(i)] for i in range(2)]
    assert "solubility" in labels[0].lower() and "hydration" in labels[1].lower()
    assert conf["label2id"] == {lab: i for i, lab in enumerate(labels)}
    assert conf["output_units"] == ["log(mol/L)", "kcal/mol"]
    assert len(conf["output_ranges"]) == 2
    for r in conf["output_ranges"]:
        assert set(r) == {"min", "max", "p05", "p95"}
        assert r["min"] <= r["p05"] <= r["p95"] <= r["max"]
    assert set(conf["test_metrics"]) == set(labels)
    for m in conf["test_metrics"].values():
        assert set(m) == {"rmse", "mae", "r2", "rmse_ci95", "n"}
        assert m["rmse_ci95"][0] <= m["rmse"] <= m["rmse_ci95"][1]
    for k in ("model_display_name", "model_version", "training_data"):
        assert isinstance(conf[k], str) and conf[k]


def test_loads_with_plain_transformers(loaded):
    tok, model = loaded
    assert model.config.problem_type == "regression"
    assert model.config.num_labels == 2
    y = predict(loaded, ["CCO"])
    assert y.shape == (1, 2) and np.isfinite(y).all()


def test_solubility_ordering(loaded):
    glucose, naphthalene, anthracene = predict(
        loaded, ["OCC1OC(O)C(O)C(O)C1O", "c1ccc2ccccc2c1", "c1ccc2cc3ccccc3cc2c1"]
    )[:, LOGS]
    assert glucose > naphthalene > anthracene
    # more chlorines -> less soluble; an alcohol is more soluble than its alkane
    benzene, hexachlorobenzene = predict(loaded, ["c1ccccc1", "Clc1c(Cl)c(Cl)c(Cl)c(Cl)c1Cl"])[
        :, LOGS
    ]
    assert benzene > hexachlorobenzene
    hexanol, hexane = predict(loaded, ["CCCCCCO", "CCCCCC"])[:, LOGS]
    assert hexanol > hexane


def test_hydration_ordering(loaded):
    ethanol, ethane = predict(loaded, ["CCO", "CC"])[:, DG]
    assert ethanol < ethane
    phenol, benzene = predict(loaded, ["Oc1ccccc1", "c1ccccc1"])[:, DG]
    assert phenol < benzene
    acetamide, propane = predict(loaded, ["CC(N)=O", "CCC"])[:, DG]
    assert acetamide < propane
    assert ethane > 0 > ethanol  # signs as measured (+1.8 and -5.0 kcal/mol)


def test_predictions_in_plausible_ranges(loaded):
    y = predict(loaded, ["CCO", "c1ccccc1", "CC(=O)Oc1ccccc1C(=O)O", "CCCCCCCC"])
    assert (y[:, LOGS] > -12).all() and (y[:, LOGS] < 3).all()
    assert (y[:, DG] > -30).all() and (y[:, DG] < 5).all()


@pytest.mark.slow  # evaluates the checkpoint on every test set
def test_recorded_metrics_match_reevaluation():
    pytest.importorskip("datamol")
    from predictions.training.data import TASKS, make_splits
    from predictions.training.evaluate import evaluate_checkpoint

    conf = json.loads((CKPT / "config.json").read_text())
    metrics = json.loads((CKPT / "metrics.json").read_text())
    sp = make_splits(seed=metrics.get("seed", 0))
    fresh = evaluate_checkpoint(str(CKPT), sp.test_smiles, sp.test_y, TASKS)
    for label, m in fresh.items():
        for rec in (conf["test_metrics"][label], metrics["test"][label]):
            assert rec["n"] == m["n"]
            for k in ("rmse", "mae", "r2"):
                assert abs(rec[k] - m[k]) < 1e-3, (label, k, rec[k], m[k])
            assert np.allclose(rec["rmse_ci95"], m["rmse_ci95"], atol=1e-3)


def test_model_card_reports_the_recorded_numbers():
    card = (CKPT / "README.md").read_text()
    metrics = json.loads((CKPT / "metrics.json").read_text())
    assert "QUICK" not in card
    for label, m in metrics["test"].items():
        assert f"{m['rmse']:.3f}" in card
        for key in ("mean", "rf"):
            assert f"{metrics['baselines'][label][key]['rmse']:.3f}" in card
    for word in (
        "CC-BY-SA 4.0",
        "CC-BY-SA 3.0",
        "Apache-2.0",
        "PREDICTION_MODEL_DIR",
        "python manage.py train_model",
        "Limitations",
        "scaffold",
    ):
        assert word in card
