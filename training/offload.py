"""Train the ensemble members on another machine (e.g. a GPU box without RDKit), finish here.

Three steps, the same training code (``training.train``) as ``python -m training``:

    python -m training.offload prepare --bundle var/offload            # here: RDKit work
    python -m training.offload descall --bundle var/offload            # optional: all descriptors
    python -m training.offload train --bundle var/offload --device cuda --out var/remote
    python -m training.offload finish --bundle var/offload --remote var/remote \\
        --output checkpoints/default                                    # here: eval + card

``prepare`` builds the splits, the pre-training corpus and its descriptor targets, the
tokenizer, a set of randomised SMILES per molecule and (optionally) *teacher* targets: the
predictions of a random forest fitted on the training split only, for every corpus molecule
(distillation of the forest into the network's pre-training; no validation, test or external
label is used). ``descall`` adds all 217 RDKit 2D descriptors (the forest's inputs) as PCA
scores, the targets of the ``descall*`` arms. ``train`` pre-trains once per arm (or, with
``--pretrained``, starts every arm from an earlier encoder) and fine-tunes the members in
parallel processes; it writes plain state dicts and histories. ``finish`` picks the arm whose member
mean scores best on VALIDATION, writes standard HF member directories with the site's config
keys, and runs the rest of the pipeline (calibration on validation, test and external
evaluation, baselines, card), exactly as ``python -m training`` does after training.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import pickle
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from . import data as D
from . import train as T

# arm name -> pre-training target blocks (each scaled in ``_targets``) and TrainConfig overrides
ARMS: dict[str, dict] = {
    "desc": {"targets": ["desc"]},
    "desc+teacher": {"targets": ["desc", "teacher"]},
    # all 217 RDKit 2D descriptors (the forest's inputs), as PCA scores (``add_descall``)
    "descall": {"targets": ["descall"]},
    "descall+teacher": {"targets": ["descall", "teacher"]},
    "descall-long": {
        "targets": ["descall"],
        "overrides": {"pretrain_batch": 256, "pretrain_lr": 1e-3},
    },
    "descall-deep": {"targets": ["descall"], "overrides": {"layers": 4, "intermediate": 512}},
    # fine-tuning levers (from a given pre-trained start: ``train --pretrained``)
    "desc-label": {"targets": ["desc"], "overrides": {"task_weighting": "label"}},
    "desc-logd2": {"targets": ["desc"], "overrides": {"task_weights": [1.0, 2.0, 1.0]}},
    "desc-label60": {"targets": ["desc"], "overrides": {"task_weighting": "label", "epochs": 60}},
}
DEFAULT_ARMS = ["desc", "desc+teacher"]
DESCALL_COMPONENTS = 48  # PCA components kept of the standardised 217 descriptors
TRAIN_VARIANTS = 16  # randomised SMILES per training/validation molecule
CORPUS_VARIANTS = 2  # per pre-training-only molecule


def full_config(seed: int = 0, **overrides) -> T.TrainConfig:
    """The configuration the lever study measured best (200 k MOSES, 40 epochs at 3e-4)."""
    base = dict(
        seed=seed,
        n_moses=200_000,
        pretrain_epochs=3,
        epochs=40,
        lr=3e-4,
        pretrain_budget_s=float("inf"),
        time_budget_s=float("inf"),
    )
    return T.TrainConfig(**{**base, **overrides})


def teacher_targets(
    splits: D.Splits, corpus: list[str], desc: np.ndarray, seed: int = 0, log=print
) -> np.ndarray:
    """Random-forest predictions (one column per task) for every corpus molecule.

    The forest sees only the *training* split's labels, on the 16 fast pre-training
    descriptors plus Morgan counts, so it runs over 200 k molecules in minutes."""
    from sklearn.ensemble import RandomForestRegressor

    X_corpus = np.hstack([desc.astype(np.float32), D.morgan_counts(corpus)])
    index = {s: i for i, s in enumerate(corpus)}
    out = np.zeros((len(corpus), D.N_TASKS), dtype=np.float32)
    for t in range(D.N_TASKS):
        m = np.isfinite(splits.train_y[:, t])
        rows = [index[s] for s, k in zip(splits.train_smiles, m) if k]
        rf = RandomForestRegressor(
            n_estimators=200, min_samples_leaf=2, random_state=seed, n_jobs=-1
        )
        rf.fit(X_corpus[rows], splits.train_y[m, t])
        out[:, t] = rf.predict(X_corpus)
        log(f"teacher {D.SHORT[t]}: fitted on {len(rows)}")
    return out


def prepare(bundle: Path, seed: int = 0, quick: bool = False, teacher: bool = True) -> None:
    from .pipeline import build_tokenizer_for, quick_config

    cfg = quick_config(seed) if quick else full_config(seed)
    t0 = time.time()
    splits = D.make_splits(seed=seed, quick=quick)
    corpus, info = D.pretrain_corpus(splits, cfg.n_moses, seed=seed, quick=quick)
    splits.info.update(info)
    tok = build_tokenizer_for(corpus, splits, cfg.max_len, seed)
    print(f"corpus {len(corpus)} ({time.time() - t0:.0f}s)", flush=True)
    desc = D.descriptor_targets(corpus).astype(np.float32)
    print(f"descriptors ({time.time() - t0:.0f}s)", flush=True)
    teach = teacher_targets(splits, corpus, desc, seed) if teacher else None
    print(f"teacher ({time.time() - t0:.0f}s)", flush=True)
    rng = np.random.RandomState(seed)
    fitting = set(splits.train_smiles) | set(splits.val_smiles)
    variants = [
        [
            D.randomized_smiles(s, rng)
            for _ in range(TRAIN_VARIANTS if s in fitting else CORPUS_VARIANTS)
        ]
        for s in corpus
    ]
    print(f"variants ({time.time() - t0:.0f}s)", flush=True)
    bundle.mkdir(parents=True, exist_ok=True)
    tok.save_pretrained(bundle / "tokenizer")
    with gzip.open(bundle / "bundle.pkl.gz", "wb") as f:
        pickle.dump(
            {
                "splits": splits,
                "quick": quick,
                "config": asdict(cfg),
                "corpus": corpus,
                "desc": desc,
                "teacher": teach,
                "variants": variants,
            },
            f,
        )


def add_descall(bundle: Path, components: int = DESCALL_COMPONENTS, precomputed=None) -> None:
    """Add ``descall.npy`` to a bundle: PCA scores of all RDKit 2D descriptors per corpus molecule.

    The descriptors are clipped to their 1st-99th percentiles and standardised, so the
    squared error on the (unwhitened) scores is the error in standardised-descriptor space
    within the kept subspace; float16 keeps the file small enough to travel."""
    with gzip.open(bundle / "bundle.pkl.gz", "rb") as f:
        corpus = pickle.load(f)["corpus"]
    X = np.load(precomputed) if precomputed else D.full_descriptors(corpus)
    if len(X) != len(corpus):
        raise SystemExit(f"{precomputed}: {len(X)} rows for {len(corpus)} corpus molecules")
    X = X.astype(np.float64)
    lo, hi = np.percentile(X, 1, axis=0), np.percentile(X, 99, axis=0)
    X = np.clip(X, lo, hi)
    X = X[:, X.std(0) > 1e-6]
    X = (X - X.mean(0)) / X.std(0)
    _, s, vt = np.linalg.svd(X[:: max(1, len(X) // 50_000)], full_matrices=False)
    k = min(components, vt.shape[0])
    scores = X @ vt[:k].T
    explained = float((s[:k] ** 2).sum() / (s**2).sum())
    np.save(bundle / "descall.npy", scores.astype(np.float16))
    (bundle / "descall.json").write_text(
        json.dumps({"descriptors": X.shape[1], "components": k, "explained_variance": explained})
    )
    print(f"descall: {X.shape[1]} descriptors -> {k} components ({explained:.1%} of variance)")


def _targets(b: dict, bundle: Path, blocks: list[str]) -> np.ndarray:
    """Pre-training targets: each block z-scored per column, except the PCA scores, which
    keep their relative variances (scaled so the block's total variance is its width)."""
    parts = []
    for name in blocks:
        if name == "descall":
            x = np.load(bundle / "descall.npy").astype(np.float64)
            x = (x - x.mean(0)) * np.sqrt(x.shape[1] / x.var(0).sum())
        else:
            x = b[name]
            if x is None:
                raise SystemExit(f"this bundle has no {name} targets")
            x = (x - x.mean(0)) / (x.std(0) + 1e-8)
        parts.append(x)
    return np.hstack(parts)


def _load(bundle: Path, arm: str) -> tuple[dict, object]:
    """Load the bundle and point training.data at its precomputed inputs (no RDKit needed)."""
    from transformers import AutoTokenizer

    with gzip.open(bundle / "bundle.pkl.gz", "rb") as f:
        b = pickle.load(f)
    index = {s: i for i, s in enumerate(b["corpus"])}
    targets = _targets(b, bundle, ARMS[arm]["targets"])
    variants = b["variants"]
    D.descriptor_targets = lambda smiles: targets[[index[s] for s in smiles]].astype(np.float64)
    D.randomized_smiles = lambda s, rng: (
        variants[index[s]][rng.randint(len(variants[index[s]]))] if s in index else s
    )
    return b, AutoTokenizer.from_pretrained(bundle / "tokenizer")


def _config(b: dict, arm: str, device: str, overrides: dict) -> T.TrainConfig:
    """The bundle's configuration, the arm's own overrides, then the caller's; targets
    arrive scaled by ``_targets``."""
    return replace(
        T.TrainConfig(**b["config"]),
        device=device,
        threads=1,
        pretrain_standardise=False,
        **{**ARMS[arm].get("overrides", {}), **overrides},
    )


def run_arm(
    bundle: Path,
    out: Path,
    arm: str,
    device: str,
    members: int,
    overrides: dict,
    pretrained: Path | None = None,
) -> None:
    """Pre-train once (or start from ``pretrained``, the ``pretrained.pt`` of an earlier arm
    with the same encoder: a fine-tuning lever then compares member for member), then
    fine-tune ``members`` seeds in parallel child processes."""
    import torch

    torch.set_num_threads(1)
    adir = out / arm
    adir.mkdir(parents=True, exist_ok=True)
    if pretrained:
        shutil.copy(pretrained, adir / "pretrained.pt")
        seconds = json.loads((pretrained.parent / "pretrain.json").read_text())["seconds"]
        (adir / "pretrain.json").write_text(
            json.dumps({"seconds": seconds, "from": str(pretrained)})
        )
    else:
        b, tok = _load(bundle, arm)
        cfg = _config(b, arm, device, overrides)
        t0 = time.time()
        state = T.pretrain(cfg, tok, b["corpus"], log=lambda m: print(f"[{arm}] {m}", flush=True))
        torch.save(state, adir / "pretrained.pt")
        (adir / "pretrain.json").write_text(json.dumps({"seconds": time.time() - t0}))
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "training.offload",
                "member",
                "--bundle",
                str(bundle),
                "--out",
                str(out),
                "--arm",
                arm,
                "--k",
                str(k),
                "--device",
                device,
                "--overrides",
                json.dumps(overrides),
            ]  # fmt: skip
        )
        for k in range(members)
    ]
    for p in procs:
        p.wait()


def run_member(bundle: Path, out: Path, arm: str, k: int, device: str, overrides: dict) -> None:
    import torch
    from safetensors.torch import save_file

    torch.set_num_threads(1)
    b, tok = _load(bundle, arm)
    cfg = _config(b, arm, device, overrides)
    state = torch.load(out / arm / "pretrained.pt")
    t0 = time.time()
    model, hist, _, _ = T.finetune(
        replace(cfg, seed=cfg.seed + k), tok, b["splits"], state,
        log=lambda m: print(f"[{arm} {k}] {m}", flush=True),
    )  # fmt: skip
    mdir = out / arm / f"member-{k}"
    mdir.mkdir(parents=True, exist_ok=True)
    save_file(
        {n: t.contiguous() for n, t in model.state_dict().items()}, mdir / "weights.safetensors"
    )
    (mdir / "history.json").write_text(
        json.dumps({"history": hist, "seconds": time.time() - t0, "config": asdict(cfg)})
    )


def train(
    bundle: Path,
    out: Path,
    device: str,
    arms: list[str],
    members: int,
    overrides: dict,
    pretrained: Path | None = None,
):
    """All arms at once (separate processes: the GPU is mostly idle for a model this small)."""
    out.mkdir(parents=True, exist_ok=True)
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "training.offload",
                "arm",
                "--bundle",
                str(bundle),
                "--out",
                str(out),
                "--arm",
                arm,
                "--device",
                device,
                "--members",
                str(members),
                "--overrides",
                json.dumps(overrides),
                *(["--pretrained", str(pretrained)] if pretrained else []),
            ]  # fmt: skip
        )
        for arm in arms
    ]
    for p in procs:
        p.wait()


def build_members(splits: D.Splits, tok, remote: Path, arm: str, output: Path) -> dict:
    """Standard HF member directories (site config keys included) from the remote state dicts."""
    from safetensors.torch import load_file
    from transformers import BertForSequenceClassification

    from .pipeline import _set_site_keys

    members, histories, seconds, cfg = [], [], [], None
    for mdir in sorted((remote / arm).glob("member-*")):
        meta = json.loads((mdir / "history.json").read_text())
        cfg = replace(T.TrainConfig(**meta["config"]), device="cpu")
        model = BertForSequenceClassification(
            T.bert_config(cfg, len(tok), tok.pad_token_id, D.N_TASKS)
        )
        model.load_state_dict(load_file(mdir / "weights.safetensors"))
        model.eval()
        _set_site_keys(model.config, splits)
        model.save_pretrained(output / mdir.name, safe_serialization=True)
        tok.save_pretrained(output / mdir.name)
        members.append(mdir.name)
        histories.append(meta["history"])
        seconds.append(meta["seconds"])
    pre_info = json.loads((remote / arm / "pretrain.json").read_text())
    pre = pre_info["seconds"]
    return {
        "pretrained_from": pre_info.get("from"),
        "splits": splits,
        "cfg": cfg,
        "members": members,
        "histories": histories,
        "pretrain_seconds": pre,
        "train_seconds": pre + max(seconds),  # members ran in parallel
    }


def val_score(path: Path, splits: D.Splits) -> float:
    """Validation score (mean over tasks of RMSE / training SD) of a checkpoint's member mean."""
    from .evaluate import predict_ensemble

    mean, _ = predict_ensemble(path, splits.val_smiles)
    sd = np.nanstd(splits.train_y, axis=0)
    rmse = [
        float(np.sqrt(np.nanmean((mean[:, t] - splits.val_y[:, t]) ** 2))) for t in range(D.N_TASKS)
    ]
    print(f"{path.name}: val RMSE {rmse}", flush=True)
    return float(np.mean([r / d for r, d in zip(rmse, sd)]))


def finish(
    bundle: Path,
    remote: Path,
    output: Path,
    skip_rf: bool = False,
    arm: str | None = None,
    baselines_from: Path | None = None,
    start_note: str | None = None,
):
    """Build every trained arm once (in a scratch directory beside ``output``), score each on
    validation, move the chosen (or best) one to ``output`` and finish it there."""
    from transformers import AutoTokenizer

    from chemcore import checkpoint as C

    from .pipeline import finish_checkpoint

    t0 = time.time()
    with gzip.open(bundle / "bundle.pkl.gz", "rb") as f:
        splits = pickle.load(f)["splits"]
    tok = AutoTokenizer.from_pretrained(bundle / "tokenizer")
    scratch = output.parent / (output.name + ".arms")
    built, scores = {}, {}
    for adir in sorted(p for p in remote.iterdir() if p.is_dir()):
        if not list(adir.glob("member-*/weights.safetensors")):
            continue
        target = scratch / adir.name
        built[adir.name] = build_members(splits, tok, remote, adir.name, target)
        C.write_manifest(target, C.EnsembleManifest(members=built[adir.name]["members"]))
        scores[adir.name] = val_score(target, splits)
    arm = arm or min(scores, key=scores.get)
    output.mkdir(parents=True, exist_ok=True)
    for old in output.glob("member-*"):
        shutil.rmtree(old)
    for member in built[arm]["members"]:
        shutil.move(str(scratch / arm / member), output / member)
    shutil.rmtree(scratch)
    info = built[arm]
    extra = {
        "offload": {
            "arm": arm,
            "arm_val_scores": scores,
            "pretrained_from": info["pretrained_from"] and (start_note or info["pretrained_from"]),
            "trained_on": (remote / "device.txt").read_text().strip()
            if (remote / "device.txt").exists()
            else "unknown",
        }
    }
    reuse = json.loads(baselines_from.read_text())["baselines"] if baselines_from else None
    return finish_checkpoint(
        str(output), info["cfg"], splits, info, t0, skip_rf=skip_rf, extra=extra,
        baselines=reuse,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m training.offload")
    p.add_argument("step", choices=["prepare", "descall", "train", "arm", "member", "finish"])
    p.add_argument("--bundle", type=Path, default=Path("var/offload"))
    p.add_argument("--out", "--remote", dest="out", type=Path, default=Path("var/remote"))
    p.add_argument("--output", type=Path, default=Path("var/checkpoint-offload"))
    p.add_argument("--device", default="cpu")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--no-teacher", action="store_true")
    p.add_argument("--arms", nargs="*", default=DEFAULT_ARMS, choices=list(ARMS))
    p.add_argument("--precomputed", type=Path, help="descall: an .npy of all descriptors")
    p.add_argument(
        "--start-note",
        help="finish: how to name the reused pre-trained start in the card (default: its path)",
    )
    p.add_argument(
        "--pretrained", type=Path, help="train: skip pre-training, start every arm from this file"
    )
    p.add_argument("--arm", default=None)
    p.add_argument("--k", type=int, default=0)
    p.add_argument("--members", type=int, default=5)
    p.add_argument("--overrides", default="{}", help="JSON TrainConfig overrides (e.g. caps)")
    p.add_argument("--skip-rf", action="store_true")
    p.add_argument(
        "--baselines-from",
        type=Path,
        help="metrics.json of an earlier finish on the same splits: reuse its (seeded) baselines",
    )
    a = p.parse_args(argv)
    ov = json.loads(a.overrides)
    if a.step == "prepare":
        prepare(a.bundle, quick=a.quick, teacher=not a.no_teacher)
    elif a.step == "descall":
        add_descall(a.bundle, precomputed=a.precomputed)
    elif a.step == "train":
        train(a.bundle, a.out, a.device, a.arms, a.members, ov, a.pretrained)
    elif a.step == "arm":
        run_arm(a.bundle, a.out, a.arm, a.device, a.members, ov, a.pretrained)
    elif a.step == "member":
        run_member(a.bundle, a.out, a.arm, a.k, a.device, ov)
    else:
        finish(a.bundle, a.out, a.output, a.skip_rf, a.arm, a.baselines_from, a.start_note)


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
