"""Metrics, bootstrap CIs, checkpoint re-evaluation and baselines."""

from __future__ import annotations

import numpy as np


def metrics(y: np.ndarray, p: np.ndarray) -> dict:
    y, p = np.asarray(y, float), np.asarray(p, float)
    err = p - y
    ss_res = float(np.sum(err**2))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    return {
        "rmse": float(np.sqrt(np.mean(err**2))),
        "mae": float(np.mean(np.abs(err))),
        "r2": 1.0 - ss_res / ss_tot if ss_tot > 0 else float("nan"),
        "n": int(len(y)),
    }


def bootstrap_rmse_ci(y, p, n_boot: int = 1000, seed: int = 0, alpha: float = 0.05) -> list[float]:
    y, p = np.asarray(y, float), np.asarray(p, float)
    rng = np.random.RandomState(seed)
    idx = rng.randint(0, len(y), size=(n_boot, len(y)))
    rm = np.sqrt(np.mean((p[idx] - y[idx]) ** 2, axis=1))
    return [
        float(np.percentile(rm, 100 * alpha / 2)),
        float(np.percentile(rm, 100 * (1 - alpha / 2))),
    ]


def model_metrics(y, p) -> dict:
    m = metrics(y, p)
    m["rmse_ci95"] = bootstrap_rmse_ci(y, p)
    return {k: m[k] for k in ("rmse", "mae", "r2", "rmse_ci95", "n")}


def load_checkpoint(path: str):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path)
    model.eval()
    return tok, model


def predict_checkpoint(tok, model, smiles: list[str], batch: int = 64) -> np.ndarray:
    """Plain inference: canonical SMILES in, real units out (no custom code)."""
    import torch

    outs = []
    with torch.no_grad():
        for i in range(0, len(smiles), batch):
            enc = tok(smiles[i : i + batch], padding=True, truncation=True, return_tensors="pt")
            enc.pop("token_type_ids", None)
            outs.append(model(**enc).logits.double().numpy())
    return np.concatenate(outs) if outs else np.zeros((0, model.config.num_labels))


def evaluate_checkpoint(path: str, test_smiles: dict, test_y: dict, tasks: list[str]) -> dict:
    tok, model = load_checkpoint(path)
    out = {}
    for t, label in enumerate(tasks):
        p = predict_checkpoint(tok, model, test_smiles[label])[:, t]
        out[label] = model_metrics(test_y[label], p)
    return out


def baselines(splits, tasks: list[str], seed: int = 0, n_trees: int = 500, log=print) -> dict:
    """Training-mean predictor and RDKit-descriptor random forest per task,
    fitted on exactly the molecules the network was fitted on (train split)."""
    from sklearn.ensemble import RandomForestRegressor

    from .data import full_descriptors

    res = {}
    for t, label in enumerate(tasks):
        m = np.isfinite(splits.train_y[:, t])
        tr_s = [s for s, k in zip(splits.train_smiles, m) if k]
        tr_y = splits.train_y[m, t]
        te_s, te_y = splits.test_smiles[label], splits.test_y[label]
        mean_p = np.full(len(te_y), tr_y.mean())
        rf = RandomForestRegressor(n_estimators=n_trees, random_state=seed, n_jobs=2)
        rf.fit(full_descriptors(tr_s), tr_y)
        rf_p = rf.predict(full_descriptors(te_s))
        res[label] = {"mean": model_metrics(te_y, mean_p), "rf": model_metrics(te_y, rf_p)}
        log(
            f"baselines {label}: mean RMSE={res[label]['mean']['rmse']:.3f} RF RMSE={res[label]['rf']['rmse']:.3f}"
        )
    return res
