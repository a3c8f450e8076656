"""Lever study: what the size of the MOSES pre-training corpus does, judged on VALIDATION only.

Two steps, so the arms can run on a machine without RDKit (e.g. a GPU box):

    python -m training.levers prepare --bundle var/levers-bundle   # here: RDKit work
    python -m training.levers run --bundle var/levers-bundle --device cuda --output levers.json

``prepare`` standardises the corpora, computes the descriptor targets and a few randomised
SMILES per molecule, and saves them with the tokenizer; ``run`` replays the same training code
(``training.train``) with those precomputed inputs. Each arm is one ensemble member with the
shipped configuration; no test or external molecule is touched.
"""

from __future__ import annotations

import argparse
import gzip
import json
import pickle
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from . import data as D
from . import train as T

ARMS = [  # (name, pre-training on?, MOSES molecules)
    ("no pre-training", False, 0),
    ("ChEMBL only (+ fitting molecules)", True, 0),
    ("ChEMBL + 50 k MOSES", True, 50_000),
    ("ChEMBL + 200 k MOSES", True, 200_000),
]
N_VARIANTS = 2  # precomputed randomised SMILES per molecule (augmentation without RDKit)


def prepare(bundle: Path, seed: int = 0, quick: bool = False) -> None:
    from .pipeline import build_tokenizer_for

    splits = D.make_splits(seed=seed, quick=quick)
    largest = max(n for _, _, n in ARMS)
    corpora = {
        n: D.pretrain_corpus(splits, n // 1000 if quick else n, seed=seed, quick=quick)[0]
        for _, on, n in ARMS
        if on
    }
    everything = list(dict.fromkeys(s for c in corpora.values() for s in c))
    tok = build_tokenizer_for(corpora[largest], splits, T.TrainConfig().max_len, seed)
    desc = D.descriptor_targets(everything).astype(np.float32)
    rng = np.random.RandomState(seed)
    variants = {s: [D.randomized_smiles(s, rng) for _ in range(N_VARIANTS)] for s in everything}
    index = {s: i for i, s in enumerate(everything)}
    bundle.mkdir(parents=True, exist_ok=True)
    tok.save_pretrained(bundle / "tokenizer")
    with gzip.open(bundle / "bundle.pkl.gz", "wb") as f:
        pickle.dump(
            {
                "splits": splits,
                "quick": quick,
                "corpora": {n: np.array([index[s] for s in c]) for n, c in corpora.items()},
                "smiles": everything,
                "desc": desc,
                "variants": [variants[s] for s in everything],
            },
            f,
        )


def _use_precomputed(b: dict) -> None:
    """Point training.train at the bundle's descriptors and randomised SMILES (no RDKit)."""
    index = {s: i for i, s in enumerate(b["smiles"])}
    variants = b["variants"]
    D.descriptor_targets = lambda smiles: b["desc"][[index[s] for s in smiles]].astype(np.float64)
    D.randomized_smiles = lambda s, rng: (
        variants[index[s]][rng.randint(N_VARIANTS)] if s in index else s
    )


def run(
    bundle: Path,
    output: Path,
    device: str,
    seed: int = 0,
    arms: list[int] | None = None,
    ensemble: bool = True,
    **overrides,
) -> dict:
    import torch
    from transformers import AutoTokenizer

    with gzip.open(bundle / "bundle.pkl.gz", "rb") as f:
        b = pickle.load(f)
    _use_precomputed(b)
    corpora = {n: [b["smiles"][i] for i in idx] for n, idx in b["corpora"].items()}
    tok = AutoTokenizer.from_pretrained(bundle / "tokenizer")
    splits = b["splits"]
    from .pipeline import quick_config

    cfg0 = quick_config(seed) if b["quick"] else T.TrainConfig(seed=seed)
    base = replace(cfg0, device=device, ensemble=1, **overrides)
    results, states = [], {}

    def save() -> dict:
        out = {
            "setup": (
                f"One member with the shipped configuration (hidden {base.hidden}, {base.layers} "
                f"layers, {base.pretrain_epochs} pre-training epochs over the corpus, up to "
                f"{base.epochs} fine-tuning epochs), seed {seed}, run on `{device}` "
                f"({torch.cuda.get_device_name(0) if device.startswith('cuda') else 'CPU'}). "
                "Val score = mean over the three tasks of validation RMSE / training-target SD "
                "(lower is better); decisions use validation only."
            ),
            "results": results,
        }
        output.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
        return out

    for name, on, n in [ARMS[i] for i in (arms or range(len(ARMS)))]:
        if overrides:
            name += ", " + ", ".join(f"{k} {v}" for k, v in overrides.items())
        t0 = time.time()
        cfg = replace(base, pretrain="desc" if on else "none", n_moses=n)
        states[n] = T.pretrain(cfg, tok, corpora[n], log=print) if on else None
        _, hist, _, _ = T.finetune(cfg, tok, splits, states[n], log=lambda *a: None)
        best = min(hist, key=lambda h: h["val_score"])
        results.append(
            {
                "lever": name,
                "n_pretrain": len(corpora[n]) if on else 0,
                "best_epoch": best["epoch"],
                "val_rmse": best["val_rmse"],
                "val_score": best["val_score"],
                "seconds": round(time.time() - t0, 1),
            }
        )
        print(json.dumps(results[-1]), flush=True)
        save()
    if ensemble and ENSEMBLE_ARM[0] in states:
        results.append(_ensemble_arm(replace(base, ensemble=ENSEMBLE_ARM[1]), tok, splits, states))
        print(json.dumps(results[-1]), flush=True)
    return save()


ENSEMBLE_ARM = (50_000, 5)  # (MOSES corpus, members): the ensemble lever, on the shipped corpus


def _ensemble_arm(cfg: T.TrainConfig, tok, splits: D.Splits, states: dict) -> dict:
    """Validation RMSE of the member mean of K fine-tunings from one pre-trained start."""
    t0 = time.time()
    n, k = ENSEMBLE_ARM
    batcher = T.Batcher(tok, cfg.max_len)
    preds = []
    for i in range(k):
        model, _, _, _ = T.finetune(
            replace(cfg, seed=cfg.seed + i), tok, splits, states[n], log=lambda *a: None
        )
        preds.append(T.predict_raw(model, batcher, splits.val_smiles))
    mean = np.mean(preds, axis=0)
    sd = np.nanstd(splits.train_y, axis=0)
    rmse = [
        float(np.sqrt(np.nanmean((mean[:, t] - splits.val_y[:, t]) ** 2))) for t in range(D.N_TASKS)
    ]
    return {
        "lever": f"ChEMBL + {n // 1000} k MOSES, ensemble of {k} (member mean)",
        "n_pretrain": None,
        "best_epoch": None,
        "val_rmse": rmse,
        "val_score": float(np.mean([r / s for r, s in zip(rmse, sd)])),
        "seconds": round(time.time() - t0, 1),
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m training.levers")
    p.add_argument("step", choices=["prepare", "run"])
    p.add_argument("--bundle", type=Path, default=Path("var/levers-bundle"))
    p.add_argument("--output", type=Path, default=Path("var/levers.json"))
    p.add_argument("--device", default="cpu")
    p.add_argument("--quick", action="store_true", help="tiny smoke run of both steps")
    p.add_argument("--arms", type=int, nargs="*", help="indices into ARMS (default: all)")
    p.add_argument("--epochs", type=int, help="fine-tuning epochs (default: the shipped value)")
    p.add_argument("--lr", type=float, help="fine-tuning learning rate")
    p.add_argument("--no-ensemble", action="store_true", help="skip the ensemble arm")
    a = p.parse_args(argv)
    if a.step == "prepare":
        prepare(a.bundle, quick=a.quick)
    else:
        extra = {k: v for k, v in (("epochs", a.epochs), ("lr", a.lr)) if v is not None}
        run(a.bundle, a.output, a.device, arms=a.arms, ensemble=not a.no_ensemble, **extra)


if __name__ == "__main__":
    main()
