"""Lever study: reduced-budget proxy runs, model selection on validation only.

python -m predictions.training.levers --output checkpoints/default/levers.json
Test RMSE is recorded for the report only; choices are made on validation RMSE.
"""

from __future__ import annotations

import argparse
import json
import os
import time

from . import data as D
from .evaluate import metrics
from .train import Batcher, TrainConfig, finetune, predict_raw, pretrain

PROXY = dict(hidden=128, layers=3, heads=4, intermediate=256, pretrain_epochs=3, epochs=20)

LEVERS = [
    ("no pre-training, no augmentation", dict(pretrain="none", augment=0.0)),
    ("+ randomised-SMILES augmentation", dict(pretrain="none", augment=0.5)),
    ("+ aug + descriptor pre-training", dict(pretrain="desc", augment=0.5)),
    ("+ aug + MLM pre-training", dict(pretrain="mlm", augment=0.5)),
    ("+ aug + descriptor+MLM pre-training", dict(pretrain="desc+mlm", augment=0.5)),
    (
        "+ aug + descriptor pre-training, 10 pre-training epochs",
        dict(pretrain="desc", augment=0.5, pretrain_epochs=10),
    ),
    ("+ aug + all-217-RDKit-descriptor pre-training", dict(pretrain="descall", augment=0.5)),
    (
        "+ aug + descriptor pre-training, hidden 192 / 4 layers",
        dict(pretrain="desc", augment=0.5, hidden=192, layers=4, intermediate=384),
    ),
    (
        "+ aug + descriptor pre-training, hidden 256 / 4 layers",
        dict(pretrain="desc", augment=0.5, hidden=256, layers=4, intermediate=512),
    ),
]


def run_lever(name, overrides, splits, tok, log=print):
    import torch

    cfg = TrainConfig(**{**PROXY, **overrides})
    torch.set_num_threads(cfg.threads)
    t0 = time.time()
    state = pretrain(cfg, tok, splits.pretrain_smiles, log=lambda *a: None)
    model, hist, _, _ = finetune(cfg, tok, splits, state, log=lambda *a: None)
    best = min(hist, key=lambda h: h["val_score"])
    b = Batcher(tok, cfg.max_len)
    test = {}
    for t, lab in enumerate(D.TASKS):
        p = predict_raw(model, b, splits.test_smiles[lab])[:, t]
        test[lab] = metrics(splits.test_y[lab], p)["rmse"]
    r = {
        "lever": name,
        "config": {**PROXY, **overrides},
        "best_epoch": best["epoch"],
        "val_rmse": dict(zip(D.TASKS, best["val_rmse"])),
        "val_score": best["val_score"],
        "test_rmse": test,
        "seconds": round(time.time() - t0, 1),
    }
    log(json.dumps(r))
    return r


def main(argv=None):
    from .pipeline import build_tokenizer_for

    p = argparse.ArgumentParser()
    p.add_argument("--output", default="checkpoints/default/levers.json")
    p.add_argument("--only", type=int, nargs="*")
    a = p.parse_args(argv)
    splits = D.make_splits(seed=0)
    tok = build_tokenizer_for(splits, 128, 0)
    results = []
    if os.path.exists(a.output):
        with open(a.output) as f:
            results = json.load(f)["results"]
    done = {r["lever"] for r in results}
    for i, (name, ov) in enumerate(LEVERS):
        if (a.only and i not in a.only) or name in done:
            continue
        results.append(run_lever(name, ov, splits, tok, log=lambda s: print(s, flush=True)))
        os.makedirs(os.path.dirname(a.output) or ".", exist_ok=True)
        with open(a.output, "w") as f:
            json.dump({"proxy_budget": PROXY, "results": results}, f, indent=2, ensure_ascii=False)


if __name__ == "__main__":
    main()
