"""The shipped default checkpoint: an ensemble of plain transformers checkpoints described by
ensemble.json; it behaves chemically sensibly, carries the keys the site reads, and the numbers
in its card and metrics.json are reproduced by re-evaluating the shipped weights (read here
with plain transformers + the manifest, independently of the training and serving code)."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from chemcore import checkpoint as C
from chemcore.standardise import standardise_smiles
from training.pipeline import SITE_CONFIG_KEYS

CKPT = Path(__file__).resolve().parents[2] / "checkpoints" / "default"
LOGS, LOGD, DG = 0, 1, 2
N_OUT = 7  # logS, logD7.4, ΔG_hyd, HLM and RLM CLint, MDR1-MDCK ER, solubility at pH 6.8


@pytest.fixture(scope="module")
def manifest():
    m = C.read_manifest(CKPT)
    assert m is not None, "checkpoints/default is an ensemble directory"
    return m


@pytest.fixture(scope="module")
def ensemble(manifest):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.set_num_threads(min(2, torch.get_num_threads()))
    tok = AutoTokenizer.from_pretrained(CKPT / manifest.members[0])
    models = [
        AutoModelForSequenceClassification.from_pretrained(CKPT / m).eval()
        for m in manifest.members
    ]
    return tok, models, manifest


def _neighbours(smiles: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, outputs) each: Tanimoto (Morgan r2, 2,048 bits) to the most similar training molecule
    measured for each output, and the similarity-weighted mean of the k most similar ones'
    measured values (ties in file order): written out here, independent of chemcore."""
    from rdkit import Chem, DataStructs
    from rdkit.Chem import rdFingerprintGenerator

    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    with open(CKPT / C.TRAINING_SET, newline="") as f:
        rows = list(csv.reader(f))[1:]
    measured = [[r for r in rows if r[1 + t]] for t in range(N_OUT)]
    refs = [[gen.GetFingerprint(Chem.MolFromSmiles(r[0])) for r in m] for m in measured]
    nearest, near = np.zeros((len(smiles), N_OUT)), np.zeros((len(smiles), N_OUT))
    for i, text in enumerate(smiles):
        fp = gen.GetFingerprint(Chem.MolFromSmiles(text))
        for t in range(N_OUT):
            sims = DataStructs.BulkTanimotoSimilarity(fp, refs[t])
            top = sorted(range(len(sims)), key=lambda j: -sims[j])[:k]  # stable: file order
            weights = [max(sims[j], 1e-3) for j in top]
            values = [float(measured[t][j][1 + t]) for j in top]
            nearest[i, t] = sims[top[0]]
            near[i, t] = sum(w * v for w, v in zip(weights, values)) / sum(weights)
    return nearest, near


def _descriptor_model(smiles: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(n, outputs) of the checkpoint's descriptor model, read from its JSON and walked tree by
    tree, node by node, on RDKit descriptors and Morgan counts (radius 2, 1,024 bits) named
    ``MorganCount:<bit>``: written out here, independent of chemcore; and the rows it read."""
    from rdkit import Chem
    from rdkit.Chem import Descriptors, rdFingerprintGenerator

    data = json.loads((CKPT / C.DESCRIPTOR_MODEL).read_text())
    table = dict(Descriptors.descList)
    counts = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=1024)
    rows = []
    for text in smiles:
        mol = Chem.MolFromSmiles(text)
        morgan = counts.GetCountFingerprintAsNumPy(mol)
        x = []
        for name in data["descriptors"]:
            if name.startswith("MorganCount:"):
                x.append(float(morgan[int(name.split(":")[1])]))
                continue
            try:
                value = float(table[name](mol))
            except Exception:
                value = 0.0
            x.append(min(max(value if np.isfinite(value) else 0.0, -1e6), 1e6))
        rows.append(x)
    X = np.array(rows, dtype=np.float64).reshape(len(smiles), len(data["descriptors"]))
    return _walk(data, X), X


def _network(X: np.ndarray) -> np.ndarray:
    """(n, outputs) of the checkpoint's descriptor network, read with safetensors' torch loader
    and run by torch: RDKit descriptors clipped to the stored 1st-99th percentiles and
    standardised, Morgan counts as log(1 + count), each net's linear layers with ReLU between,
    the nets' mean in the targets' units. Written out here, independent of chemcore."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    path = CKPT / C.DESCRIPTOR_MLP
    with safe_open(str(path), framework="pt") as handle:
        meta = json.loads(handle.metadata()["smiles_site"])
    w = {k: v.float() for k, v in load_file(str(path)).items()}
    head = int(meta["scaled"])
    x = torch.tensor(X, dtype=torch.float64)
    z = (
        torch.clamp(x[:, :head], w["clip_low"].double(), w["clip_high"].double())
        - w["mean"].double()
    ) / w["std"].double()
    x = torch.cat([z, torch.log1p(x[:, head:].clamp(min=0))], dim=1).float()
    outs = []
    for k in range(int(meta["nets"])):
        h = x
        for i in range(int(meta["layers"])):
            h = h @ w[f"net{k}.layer{i}.weight"] + w[f"net{k}.layer{i}.bias"]
            h = torch.relu(h) if i < int(meta["layers"]) - 1 else h
        outs.append(h.double())
    mean = torch.stack(outs).mean(0).numpy()
    return mean * w["target_std"].double().numpy() + w["target_mean"].double().numpy()


def _graph(smiles: list[str]) -> np.ndarray:
    """(n, outputs) of the checkpoint's graph network, read with safetensors' torch loader and
    run by torch on features written out here from RDKit, independent of chemcore: messages
    along directed bonds (a bond's message excludes its reverse), atom states, their mean and
    sum / 10, the head, the nets' mean in the targets' units clipped to the fitting range."""
    from rdkit import Chem
    from safetensors import safe_open
    from safetensors.torch import load_file

    path = CKPT / C.GRAPH_NETWORK
    with safe_open(str(path), framework="pt") as handle:
        meta = json.loads(handle.metadata()["smiles_site"])
    w = {k: v.float() for k, v in load_file(str(path)).items()}

    def hot(value, options):
        return [float(value == o) for o in options] + [float(value not in options)]

    elements = [1, 3, 5, 6, 7, 8, 9, 11, 12, 14, 15, 16, 17, 19, 20, 26, 29, 30, 34, 35, 50, 53]
    hybrid = ["S", "SP", "SP2", "SP3", "SP3D", "SP3D2"]
    out = []
    for text in smiles:
        mol = Chem.MolFromSmiles(text)
        atoms = torch.tensor(
            [
                hot(a.GetAtomicNum(), elements)
                + hot(a.GetTotalDegree(), [0, 1, 2, 3, 4, 5])
                + hot(a.GetFormalCharge(), [-2, -1, 0, 1, 2])
                + hot(int(a.GetChiralTag()), [0, 1, 2])
                + hot(a.GetTotalNumHs(), [0, 1, 2, 3, 4])
                + hot(str(a.GetHybridization()), hybrid)
                + [float(a.GetIsAromatic()), float(a.IsInRing()), a.GetMass() * 0.01]
                for a in mol.GetAtoms()
            ]
        )
        src, dst, feats = [], [], []
        for b in mol.GetBonds():
            f = hot(str(b.GetBondType()), ["SINGLE", "DOUBLE", "TRIPLE", "AROMATIC"])
            f += [float(b.GetIsConjugated()), float(b.IsInRing())] + hot(
                int(b.GetStereo()), [0, 1, 2, 3]
            )
            i, j = b.GetBeginAtomIdx(), b.GetEndAtomIdx()
            src, dst, feats = src + [i, j], dst + [j, i], feats + [f, f]
        src, dst = torch.tensor(src, dtype=torch.long), torch.tensor(dst, dtype=torch.long)
        bonds = torch.tensor(feats).reshape(len(src), 12)
        reverse = torch.arange(len(src)) ^ 1
        nets = []
        for k in range(int(meta["nets"])):
            first = torch.relu(torch.cat([atoms[src], bonds], 1) @ w[f"net{k}.input"])
            h = first
            for _ in range(int(meta["depth"]) - 1):
                arriving = torch.zeros(len(atoms), h.shape[1]).index_add_(0, dst, h)
                h = torch.relu(first + (arriving[src] - h[reverse]) @ w[f"net{k}.message"])
            arriving = torch.zeros(len(atoms), h.shape[1]).index_add_(0, dst, h)
            state = torch.cat([atoms, arriving], 1) @ w[f"net{k}.atom.weight"]
            state = torch.relu(state + w[f"net{k}.atom.bias"])
            x = torch.cat([state.mean(0), state.sum(0) / 10.0])
            for i in range(int(meta["head"])):
                x = x @ w[f"net{k}.head{i}.weight"] + w[f"net{k}.head{i}.bias"]
                x = torch.relu(x) if i < int(meta["head"]) - 1 else x
            nets.append(x.double())
        out.append(torch.stack(nets).mean(0).numpy())
    values = np.array(out) * w["target_std"].double().numpy() + w["target_mean"].double().numpy()
    return np.clip(values, w["target_low"].double().numpy(), w["target_high"].double().numpy())


def _walk(data: dict, X: np.ndarray) -> np.ndarray:
    """(n, outputs): each output's trees in `data` (the JSON) walked on the rows of X."""
    every = np.arange(len(X))
    out = np.full((len(X), N_OUT), np.nan)
    for t, trees in enumerate(data["outputs"]):
        if trees is None:
            continue
        leaf = np.asarray(trees["leaf"], dtype=bool)
        feature, threshold = np.asarray(trees["feature"]), np.asarray(trees["threshold"])
        left, right = np.asarray(trees["left"]), np.asarray(trees["right"])
        value = np.asarray(trees["value"], dtype=np.float64)
        total = np.full(len(X), float(trees["baseline"]))
        for root in trees["roots"]:  # one tree at a time, every molecule down it together
            node = np.full(len(X), root)
            while not leaf[node].all():
                go_left = X[every, feature[node]] <= threshold[node]
                node = np.where(leaf[node], node, np.where(go_left, left[node], right[node]))
            total += value[node]
        out[:, t] = total
    return out


def predict(ensemble, smiles, batch=128):
    """(value, sigma) per output: member mean, blended with the descriptor model (weight beta;
    its trees mixed with the descriptor network, then with the graph network)
    and then with the k nearest measured molecules (w = weight * s^power), as the manifest
    says; sigma = member std (ddof 0) x calibration scale, combined in quadrature with
    error_scale x the error model's |error| (its trees walked on the descriptor rows beside the
    descriptor model's values; below 0: 0) and distance_scale x (1 - nearest training
    similarity)."""
    tok, models, manifest = ensemble
    can = [standardise_smiles(s) for s in smiles]
    outs = []
    with torch.no_grad():
        for i in range(0, len(can), batch):
            enc = tok(
                can[i : i + batch], padding=True, return_tensors="pt", return_token_type_ids=False
            )
            outs.append(torch.stack([m(**enc).logits for m in models]).double().numpy())
    ys = np.concatenate(outs, axis=1)
    value = ys.mean(0)
    sigma = ys.std(0) * np.asarray(manifest.uncertainty_scale)
    if manifest.blends_descriptors:
        beta = np.asarray(manifest.descriptor_weight)
        trees, X = _descriptor_model(can)
        desc = trees
        if manifest.blends_mlp:
            g = np.asarray(manifest.mlp_weight)
            desc = (1 - g) * trees + g * _network(X)
        if manifest.blends_graph:
            h = np.asarray(manifest.graph_weight)
            desc = (1 - h) * desc + h * _graph(can)
        value = (1 - beta) * value + beta * np.nan_to_num(desc)
        if manifest.models_error:
            data = json.loads((CKPT / manifest.error_model).read_text())
            # the value the error model was fitted on: the mix since v3.4.0, else the trees
            on = desc if manifest.error_value == "mix" else trees
            error = _walk(data, np.column_stack([X, np.nan_to_num(on)]))
            term = np.asarray(manifest.error_scale) * np.maximum(np.nan_to_num(error), 0.0)
            sigma = np.sqrt(sigma**2 + term**2)
    if any(manifest.distance_scale) or manifest.reads_across:
        nearest, near = _neighbours(can, manifest.read_across_k)
        sigma = np.sqrt(sigma**2 + (np.asarray(manifest.distance_scale) * (1 - nearest)) ** 2)
        if manifest.reads_across:
            w = np.asarray(manifest.read_across_weight) * nearest ** np.asarray(
                manifest.read_across_power
            )
            value = (1 - w) * value + w * near
    return value, sigma


def test_files_and_size(manifest):
    for f in (C.ENSEMBLE_MANIFEST, C.TRAINING_SET, C.CARD, C.METRICS):
        assert (CKPT / f).is_file(), f
    assert len(manifest.members) >= 3
    for member in manifest.members:
        for f in C.MEMBER_FILES:
            assert (CKPT / member / f).is_file(), (member, f)
    total = sum(p.stat().st_size for p in CKPT.rglob("*") if p.is_file())
    assert total <= 40e6
    # both networks are in the value, so the re-evaluation below checks their forwards
    assert manifest.blends_mlp and manifest.blends_graph


def test_config_keys_identical_in_every_member(manifest):
    confs = [json.loads((CKPT / m / "config.json").read_text()) for m in manifest.members]
    first = {k: confs[0][k] for k in SITE_CONFIG_KEYS}
    assert all({k: c[k] for k in SITE_CONFIG_KEYS} == first for c in confs[1:])
    labels = [first["id2label"][str(i)] for i in range(N_OUT)]
    assert "logS" in labels[LOGS] and "logD" in labels[LOGD] and "ΔG_hyd" in labels[DG]
    assert "HLM" in labels[3] and "RLM" in labels[4] and "ER" in labels[5] and "6.8" in labels[6]
    assert first["problem_type"] == "regression"
    assert first[C.KEY_UNITS][:3] == ["log(mol/L)", "log units", "kcal/mol"]
    assert first[C.KEY_LINEAR_UNITS][3:] == ["mL/min/kg", "mL/min/kg", "ratio", "µg/mL"]
    assert all(first[C.KEY_DESCRIPTIONS]) and len(set(first[C.KEY_GROUPS])) == 2
    for r in first[C.KEY_RANGES]:
        assert r["min"] <= r["p05"] <= r["p95"] <= r["max"]
    assert set(first[C.KEY_TEST_METRICS]) == set(labels)
    # the version the site shows is the one the card and metrics.json name
    metrics = json.loads((CKPT / "metrics.json").read_text())
    assert first[C.KEY_VERSION] == metrics["model_version"]
    title = f"v{metrics['model_version']}"
    card = (CKPT / "README.md").read_text().splitlines()
    assert any(line.startswith("# ") and line.endswith(title) for line in card)
    assert len(manifest.uncertainty_scale) == N_OUT and min(manifest.uncertainty_scale) >= 0
    # the likelihood may give the member spread no weight (ΔG_hyd in v3.3.0), but every
    # output keeps some term of σ
    terms = zip(manifest.uncertainty_scale, manifest.distance_scale, manifest.error_scale)
    assert all(max(t) > 0 for t in terms)


def test_training_set_file():
    with open(CKPT / C.TRAINING_SET, newline="") as f:
        rows = list(csv.reader(f))
    conf = json.loads((CKPT / "member-0" / "config.json").read_text())
    assert rows[0] == ["smiles", *(conf["id2label"][str(i)] for i in range(N_OUT))]
    metrics = json.loads((CKPT / C.METRICS).read_text())
    assert len(rows) - 1 == metrics["splits"]["n_train"] + metrics["splits"]["n_val"]
    for t in range(N_OUT):
        assert sum(r[1 + t] != "" for r in rows[1:]) > 50
    assert sum(r[1 + LOGS] != "" for r in rows[1:]) > 5000  # AqSolDB parents and more


def test_solubility_ordering(ensemble):
    (glucose, naphthalene, anthracene), _ = predict(
        ensemble, ["OCC1OC(O)C(O)C(O)C1O", "c1ccc2ccccc2c1", "c1ccc2cc3ccccc3cc2c1"]
    )
    assert glucose[LOGS] > naphthalene[LOGS] > anthracene[LOGS]
    (benzene, hexachloro, hexanol, hexane), _ = predict(
        ensemble, ["c1ccccc1", "Clc1c(Cl)c(Cl)c(Cl)c(Cl)c1Cl", "CCCCCCO", "CCCCCC"]
    )
    assert benzene[LOGS] > hexachloro[LOGS] and hexanol[LOGS] > hexane[LOGS]


def test_lipophilicity_ordering(ensemble):
    (octanol, ethanol), _ = predict(ensemble, ["CCCCCCCCO", "CCO"])
    assert octanol[LOGD] > ethanol[LOGD]
    # a carboxylic acid (ionised at pH 7.4) sits below its methyl ester
    for acid, ester in [
        ("OC(=O)c1ccccc1", "COC(=O)c1ccccc1"),
        ("CC(C)Cc1ccc(C(C)C(=O)O)cc1", "CC(C)Cc1ccc(C(C)C(=O)OC)cc1"),
    ]:
        (a, e), _ = predict(ensemble, [acid, ester])
        assert a[LOGD] < e[LOGD], (acid, a[LOGD], e[LOGD])


def test_hydration_ordering(ensemble):
    (ethanol, ethane, phenol, benzene), _ = predict(
        ensemble, ["CCO", "CC", "Oc1ccccc1", "c1ccccc1"]
    )
    assert ethanol[DG] < ethane[DG] and phenol[DG] < benzene[DG]


def test_every_prediction_has_a_positive_uncertainty(ensemble):
    mean, sigma = predict(ensemble, ["CCO", "c1ccccc1", "CC(=O)Oc1ccccc1C(=O)O"])
    assert np.isfinite(mean).all() and (sigma > 0).all()


def _check(recorded: dict, y, p, s):
    from scipy.stats import spearmanr

    err = p - y
    fresh = {
        "rmse": np.sqrt(np.mean(err**2)),
        "mae": np.mean(np.abs(err)),
        "r2": 1 - np.sum(err**2) / np.sum((y - y.mean()) ** 2),
        "spearman": spearmanr(y, p).statistic,
        "unc_spearman": spearmanr(np.abs(err), s).statistic,
        "coverage90": np.mean(np.abs(err) <= 1.645 * s),
    }
    assert recorded["n"] == len(y)
    for k, v in fresh.items():
        assert abs(recorded[k] - v) < 2e-3, (k, recorded[k], v)


@pytest.mark.slow  # evaluates the checkpoint on every test set
def test_recorded_metrics_match_reevaluation(ensemble):
    """Over the molecules the served object accepts (chemcore's rule decides which it refuses:
    metals, tokens never seen); the figures themselves are recomputed here."""
    pytest.importorskip("datamol")
    from chemcore.model import Model, Refused
    from training import data as D

    if not D.data_available():
        pytest.skip("data archives not cached: python -m training --fetch-data")
    served = Model.load(CKPT)

    def accepted(smiles: list[str]) -> np.ndarray:
        kept = []
        for text in smiles:
            try:
                served.preprocess(text)
                kept.append(True)
            except Refused:
                kept.append(False)
        return np.array(kept)

    metrics = json.loads((CKPT / C.METRICS).read_text())
    conf = json.loads((CKPT / "member-0" / "config.json").read_text())
    sp = D.make_splits(seed=metrics["seed"], version=D.split_version_of(metrics))
    for t, label in enumerate(D.TASKS):
        kept = accepted(sp.test_smiles[label])
        smiles = [s for s, k in zip(sp.test_smiles[label], kept) if k]
        mean, sigma = predict(ensemble, smiles)
        for rec in (conf[C.KEY_TEST_METRICS][label], metrics["test"][label]):
            assert rec["refused"] == int((~kept).sum())
            _check(rec, sp.test_y[label][kept], mean[:, t], sigma[:, t])
    assert accepted(sp.external_smiles).all()
    mean, sigma = predict(ensemble, sp.external_smiles)
    _check(metrics["external"], sp.external_y, mean[:, LOGS], sigma[:, LOGS])


def test_model_card_reports_the_recorded_numbers(manifest):
    card = (CKPT / C.CARD).read_text()
    metrics = json.loads((CKPT / C.METRICS).read_text())
    assert "QUICK" not in card
    # the card names the value σ's error model reads, as the manifest the site follows says
    assert metrics["error_model_value"] == manifest.error_value
    served = "the descriptor value as served, fitted on that value's 5-fold out-of-fold"
    assert (served in card) == (manifest.error_value == C.ERROR_ON_MIX)
    for label, m in [*metrics["test"].items(), ("external", metrics["external"])]:
        assert f"{m['rmse']:.3f}" in card and f"{100 * m['coverage90']:.1f} %" in card
        for key in ("mean", "rf", "gbm"):
            assert f"{metrics['baselines'][label][key]['rmse']:.3f}" in card
    for word in (
        "CC-BY-SA 4.0",
        "CC-BY-SA 3.0",
        "MIT",
        "Apache-2.0",
        "ESOL",
        "InChIKey",
        "PREDICTION_MODEL_DIR",
        "python -m training",
        "Limitations",
        "scaffold",
        "Lever study",
    ):
        assert word in card, word
