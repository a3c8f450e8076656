"""Metrics, bootstrap CIs, uncertainty quality, checkpoint re-evaluation and baselines.

Checkpoints are predicted with chemcore.model, the object the site serves, so the figures in
the card are the site's.
"""

from __future__ import annotations

import functools
import math
import os
from pathlib import Path

import numpy as np

Z90 = 1.645  # half-width of the nominal 90 % interval, in sigmas


def metrics(y: np.ndarray, p: np.ndarray) -> dict:
    from scipy.stats import spearmanr

    y, p = np.asarray(y, float), np.asarray(p, float)
    err = p - y
    ss_res = float(np.sum(err**2))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    return {
        "rmse": float(np.sqrt(np.mean(err**2))),
        "mae": float(np.mean(np.abs(err))),
        "r2": 1.0 - ss_res / ss_tot if ss_tot > 0 else float("nan"),
        "spearman": float(spearmanr(y, p).statistic)
        if len(y) > 2 and p.std() > 0
        else float("nan"),  # undefined for a constant predictor
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


def model_metrics(y, p, sigma=None) -> dict:
    """RMSE (+ bootstrap CI), MAE, R², Spearman; with ``sigma`` also uncertainty quality."""
    m = metrics(y, p)
    m["rmse_ci95"] = bootstrap_rmse_ci(y, p)
    if sigma is not None:
        m.update(uncertainty_quality(y, p, sigma))
    return m


def uncertainty_quality(y, p, sigma) -> dict:
    """Spearman(|error|, σ) and the observed coverage of value ± 1.645 σ (nominal 90 %)."""
    from scipy.stats import spearmanr

    err = np.abs(np.asarray(p, float) - np.asarray(y, float))
    sigma = np.asarray(sigma, float)
    rho = spearmanr(err, sigma).statistic if len(err) > 2 and sigma.std() > 0 else float("nan")
    return {
        "unc_spearman": float(rho),
        "coverage90": float(np.mean(err <= Z90 * sigma)),
        "sigma_median": float(np.median(sigma)),
    }


def calibration_scale(y, p, spread) -> float:
    """Factor on ``spread`` so that value ± 1.645·scale·spread is a 90 % interval (split
    conformal): the ⌈(n + 1)·0.9⌉-th smallest |error| / spread of the n validation molecules,
    over 1.645. The plain 90th percentile covered 90 % of the molecules it was fitted on and
    fewer of new ones (a finite-sample shortfall, largest where validation is small: 17
    ΔG_hyd molecules); this quantile covers at least 90 % of exchangeable new molecules.
    """
    err = np.abs(np.asarray(p, float) - np.asarray(y, float))
    ratio = np.sort(err / np.maximum(np.asarray(spread, float), 1e-6))
    if not len(ratio):
        return 1.0
    rank = min(math.ceil((len(ratio) + 1) * 0.9), len(ratio))
    return float(ratio[rank - 1] / Z90)


MIN_FIT = 20  # validation molecules needed to fit σ's shape (two factors) for an output


def fit_uncertainty_terms(
    y,
    p,
    spread,
    nearest,
    error=None,
    share: float | None = None,
    error_share: float | None = None,
) -> tuple[float, float, float]:
    """(scale, distance_scale, error_scale) of chemcore.uncertainty on validation: the shape
    (how much spread, distance and predicted error) by Gaussian likelihood, the size by the
    split-conformal quantile. With fewer than MIN_FIT molecules the shape cannot be fitted: it
    is borrowed, the distance and error terms taking `share` and `error_share` of σ² for the
    median molecule (`term_shares` of the outputs that could be fitted); without an error
    model or `error_share`, the distance term alone beside the spread; without `share`, the
    spread alone."""
    from scipy.optimize import minimize

    y, p = np.asarray(y, float), np.asarray(p, float)
    spread, dist = np.maximum(np.asarray(spread, float), 1e-6), 1.0 - np.asarray(nearest, float)
    h = np.zeros_like(y) if error is None else np.maximum(np.asarray(error, float), 0.0)
    if len(y) < MIN_FIT:
        ratio, error_ratio = 0.0, 0.0
        if share is not None and len(y):
            if error is not None and error_share:
                ratio, error_ratio = _ratios_for_shares(spread, dist, h, share, error_share)
            if not error_ratio:
                ratio = _ratio_for_share(spread, dist, share)
        shape = np.sqrt(spread**2 + (ratio * dist) ** 2 + (error_ratio * h) ** 2)
        k = calibration_scale(y, p, shape)
        return k, k * ratio, k * error_ratio
    err2 = (p - y) ** 2
    terms = [spread**2, dist**2] + ([h**2] if error is not None else [])

    def nll(theta):
        var = sum(np.exp(2 * t) * x for t, x in zip(theta, terms)) + 1e-9
        return float(np.sum(0.5 * np.log(var) + 0.5 * err2 / var))

    rms = max(np.sqrt(err2.mean()), 1e-3)
    start = [max(calibration_scale(y, p, spread), 1e-3), rms]
    if error is not None:
        start.append(rms / max(float(np.mean(h)), 1e-3))
    best = minimize(
        nll,
        np.log(start),
        method="Nelder-Mead",
        options={"xatol": 1e-4, "fatol": 1e-6, "maxiter": 4000},
    )
    a, b, c = (*(float(v) for v in np.exp(best.x)), 0.0)[:3]
    # The likelihood fixes the *shape* (how much is spread, distance, predicted error);
    # errors have heavier tails than a Gaussian, so all are then scaled by the
    # split-conformal quantile.
    k = calibration_scale(y, p, np.sqrt((a * spread) ** 2 + (b * dist) ** 2 + (c * h) ** 2))
    return a * k, b * k, c * k


SIMILARITY_CARE = 0.30  # chemcore.domain.Thresholds' default cut, tried per output
MIN_BELOW = 10  # validation molecules below the cut needed to judge it
Z85 = 1.440  # half-width of the nominal 85 % interval, in sigmas
# σ under-states the errors below the cut when their root-mean-square |error| / σ exceeds the
# others' by more than Z90 / Z85 (1.14): the factor at which a 90 % interval that holds for
# the others covers only 85 % of them, the edge of the coverage band the card aims at.
UNDERSTATED = Z90 / Z85


def fit_similarity_care(y, p, sigma, nearest, cut: float = SIMILARITY_CARE) -> float:
    """The nearest-neighbour similarity below which an output's prediction is "use with care"
    (chemcore.domain), chosen on validation: `cut` where σ under-states the errors of the
    molecules below it (their root-mean-square |error| / σ is more than UNDERSTATED times
    that of the molecules at or above it) or where fewer than MIN_BELOW fall below it (too
    few to tell); 0 (no such rule) where σ, whose distance term grows as the similarity
    falls, already covers them. The uncertainty rule still flags a large σ. (A plain "larger"
    flipped on noise: logD7.4's 40 molecules below the cut had 1.063 against 1.041, larger in
    half of the bootstrap resamples.)"""
    z = (np.asarray(p, float) - np.asarray(y, float)) / np.maximum(np.asarray(sigma, float), 1e-9)
    below = np.asarray(nearest, float) < cut
    if below.sum() < MIN_BELOW or below.all():
        return cut
    rms_below = float(np.sqrt(np.mean(z[below] ** 2)))
    rms_above = float(np.sqrt(np.mean(z[~below] ** 2)))
    return cut if rms_below > UNDERSTATED * rms_above else 0.0


def term_shares(
    spread, nearest, scale: float, distance_scale: float, error=None, error_scale: float = 0.0
) -> tuple[float, float]:
    """The medians over molecules of the distance term's and the error term's shares of σ²."""
    s = scale * np.asarray(spread, float)
    d = distance_scale * (1.0 - np.asarray(nearest, float))
    e = np.zeros_like(d) if error is None else error_scale * np.maximum(np.asarray(error, float), 0)
    total = np.maximum(s**2 + d**2 + e**2, 1e-18)
    return float(np.median(d**2 / total)), float(np.median(e**2 / total))


def distance_share(spread, nearest, scale: float, distance_scale: float) -> float:
    """The median over molecules of the distance term's share of σ² (no error term)."""
    return term_shares(spread, nearest, scale, distance_scale)[0]


def _ratios_for_shares(spread, dist, error, share: float, error_share: float):
    """(distance_scale, error_scale) / scale giving the two terms these median shares of σ²;
    (0, 0) where none does (then the distance term is borrowed alone)."""
    from scipy.optimize import minimize

    def gap(log_ratios) -> float:
        got = term_shares(
            spread, 1.0 - dist, 1.0, *np.exp(log_ratios[:1]), error, np.exp(log_ratios[1])
        )
        return (got[0] - share) ** 2 + (got[1] - error_share) ** 2

    starts = ([0.0, 0.0], [2.0, 2.0], [-2.0, 2.0], [2.0, -2.0])
    best = min((minimize(gap, x, method="Nelder-Mead") for x in starts), key=lambda r: r.fun)
    if best.fun > 1e-6:
        return 0.0, 0.0
    return float(np.exp(best.x[0])), float(np.exp(best.x[1]))


def _ratio_for_share(spread, dist, share: float) -> float:
    """distance_scale / scale giving the distance term `share` of σ² for the median molecule
    (0 where no ratio can: no distance, or a share of 0)."""
    from scipy.optimize import brentq

    def gap(log_ratio: float) -> float:
        return distance_share(spread, 1.0 - dist, 1.0, float(np.exp(log_ratio))) - share

    try:
        return float(np.exp(brentq(gap, -20.0, 20.0, xtol=1e-10)))
    except ValueError:  # no sign change: every molecule on a training one, or share 0 or 1
        return 0.0


def read_across_neighbours(
    smiles: list[str], reference: list[str], values, k: int = 5
) -> tuple[np.ndarray, np.ndarray]:
    """(neighbour mean, nearest similarity) of each molecule among ``reference`` (measured
    ``values``), as chemcore.readacross computes them; reference order breaks ties."""
    from rdkit import Chem

    from chemcore.readacross import neighbour_mean
    from chemcore.similarity import bulk_similarity, fingerprint

    if not reference:
        return np.full(len(smiles), np.nan), np.zeros(len(smiles))
    ref = [fingerprint(Chem.MolFromSmiles(s)) for s in reference]
    sims = np.array([bulk_similarity(Chem.MolFromSmiles(s), ref) for s in smiles])
    return neighbour_mean(sims.reshape(len(smiles), len(ref)), np.asarray(values, float), k)


def fit_read_across(y, p, near, nearest) -> tuple[float, float]:
    """(weight, power) of chemcore.readacross.blend with the lowest validation RMSE, on the
    grid the study used (weight 0 to 1 by 0.05, power 1, 2 or 4); (0, 1) keeps the model."""
    from chemcore.readacross import blend

    y, p = np.asarray(y, float), np.asarray(p, float)
    if not len(y):
        return 0.0, 1.0

    def rmse(weight: float, power: float) -> float:
        return float(np.sqrt(np.mean((blend(p, near, nearest, weight, power) - y) ** 2)))

    grid = [(round(w, 2), g) for w in np.linspace(0.0, 1.0, 21) for g in (1.0, 2.0, 4.0)]
    weight, power = min(grid, key=lambda wg: (rmse(*wg), wg))  # ties: the smaller weight
    return float(weight), float(power)


# --- predicting with a checkpoint (chemcore.model, as the site does) --------------------------


def predict_members(path: str | Path, smiles: list[str]) -> np.ndarray:
    """(members, n, outputs): each member's own values, read as the site reads the molecules
    (chemcore.network): what the blends and σ are fitted on."""
    from chemcore.network import Network

    return Network(path).member_values(smiles)


def fit_descriptor_weight(y, p, trees) -> float:
    """beta of chemcore.descriptor_model.blend with the lowest validation RMSE (0 to 1 by
    0.05)."""
    y, p, trees = (np.asarray(a, float) for a in (y, p, trees))
    if not len(y):
        return 0.0
    grid = [round(b, 2) for b in np.linspace(0.0, 1.0, 21)]
    return float(min(grid, key=lambda b: (np.mean(((1 - b) * p + b * trees - y) ** 2), b)))


def predict_ensemble(path: str | Path, smiles: list[str]) -> tuple[np.ndarray, np.ndarray | None]:
    """(value, σ or None for a plain checkpoint), (n, outputs), from chemcore.model: what the
    site serves. A molecule the model refuses (a metal, an unreadable token) gets NaN."""
    from chemcore.model import Model, Refused

    model = Model.load(path)
    n_out = len(model.outputs)
    value = np.full((len(smiles), n_out), np.nan)
    sigma = np.full((len(smiles), n_out), np.nan) if model.has_uncertainty else None
    for i, predicted in enumerate(model.predict(smiles, batch_size=128)):
        if isinstance(predicted, Refused):
            continue
        value[i] = predicted.values
        if sigma is not None:
            sigma[i] = predicted.uncertainties
    return value, sigma


def evaluate_checkpoint(path, test_smiles: dict, test_y: dict, tasks: list[str]) -> dict:
    """Metrics per task label on its test set, from the saved checkpoint (chemcore.model),
    over the molecules it predicts; "refused" counts those it refuses (metals, unreadable)."""
    out = {}
    for t, label in enumerate(tasks):
        mean, sigma = predict_ensemble(path, test_smiles[label])
        out[label] = served_metrics(
            test_y[label], mean[:, t], None if sigma is None else sigma[:, t]
        )
    return out


def served_metrics(y, value, sigma=None) -> dict:
    """`model_metrics` over the molecules with a value, and how many were refused (NaN)."""
    y, value = np.asarray(y, float), np.asarray(value, float)
    kept = np.isfinite(value)
    found = model_metrics(y[kept], value[kept], None if sigma is None else np.asarray(sigma)[kept])
    found["refused"] = int((~kept).sum())
    return found


# --- baselines ---------------------------------------------------------------------------------


def baseline_features(smiles: list[str]) -> np.ndarray:
    """The baselines' inputs: all RDKit 2D descriptors + 1,024-bit Morgan counts (radius 2)."""
    from .data import full_descriptors, morgan_counts

    X = np.hstack([full_descriptors(smiles), morgan_counts(smiles).astype(np.float64)])
    return np.nan_to_num(np.clip(X, -1e9, 1e9), nan=0.0)


def baselines(splits, tasks: list[str], seed: int = 0, n_trees: int = 500, log=print) -> dict:
    """Per task, fitted on exactly the molecules the network was fitted on: the training mean,
    a 500-tree random forest and gradient-boosted trees (scikit-learn's
    HistGradientBoostingRegressor, early stopping on an inner 10 %), both on all RDKit 2D
    descriptors + Morgan counts. Key "external": the logS models on the external set."""
    from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor

    from .data import LOGS

    every = sorted(
        set(splits.train_smiles)
        | {s for xs in splits.test_smiles.values() for s in xs}
        | set(splits.external_smiles)
    )
    X_all = baseline_features(every)
    row = {s: i for i, s in enumerate(every)}

    def X(smiles):
        return X_all[[row[s] for s in smiles]]

    res = {}
    for t, label in enumerate(tasks):
        m = np.isfinite(splits.train_y[:, t])
        tr_s = [s for s, k in zip(splits.train_smiles, m) if k]
        tr_y = splits.train_y[m, t]
        rf = RandomForestRegressor(
            n_estimators=n_trees, max_features=0.3, random_state=seed, n_jobs=-1
        ).fit(X(tr_s), tr_y)
        gbm = HistGradientBoostingRegressor(
            max_iter=1000, learning_rate=0.05, early_stopping=True, random_state=seed
        ).fit(X(tr_s), tr_y)
        sets = {label: (splits.test_smiles[label], splits.test_y[label])}
        if t == LOGS:
            sets["external"] = (splits.external_smiles, splits.external_y)
        for key, (te_s, te_y) in sets.items():
            res[key] = {
                "mean": model_metrics(te_y, np.full(len(te_y), tr_y.mean())),
                "rf": model_metrics(te_y, rf.predict(X(te_s))),
                "gbm": model_metrics(te_y, gbm.predict(X(te_s))),
            }
            log(
                f"baselines {key}: mean RMSE={res[key]['mean']['rmse']:.3f} "
                f"RF RMSE={res[key]['rf']['rmse']:.3f} GBM RMSE={res[key]['gbm']['rmse']:.3f}"
            )
    return res


def descriptor_model_names(morgan: bool = True) -> list[str]:
    """The descriptor model's columns: the RDKit descriptors but the slowest
    (chemcore.descriptors.SLOW), plus (``morgan``) 1,024 Morgan counts."""
    from chemcore.descriptors import ALL, MORGAN_COUNTS, SLOW

    return [name for name in ALL if name not in SLOW] + (list(MORGAN_COUNTS) if morgan else [])


# The descriptor trees: a bag of TREE_BAG boosted models (seeds seed, seed + 1, ...), each split
# choosing among a random TREE_FEATURES of the columns. One model on every column moved
# logS's test RMSE by up to 3 % when 100 random fitting molecules were left out; the bag on
# 10 % of the columns scored 0.968 against 1.069 on split 3.1's logS validation
# (docs/studies/v3.1-tree-bag.md). The site walks the bag as one model of 3 x 300 trees.
TREE_BAG = 3
TREE_FEATURES = 0.1


def fit_trees(X: np.ndarray, y: np.ndarray, seed: int = 0, max_iter: int = 300) -> list:
    """The bag of boosted models for one output (the mean of their predictions is its value;
    chemcore.descriptor_model.Trees.from_sklearn merges them)."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    return [
        HistGradientBoostingRegressor(
            random_state=seed + k, max_iter=max_iter, max_features=TREE_FEATURES
        ).fit(X, y)
        for k in range(TREE_BAG)
    ]


def fit_descriptor_model(
    smiles: list[str],
    y: np.ndarray,
    seed: int = 0,
    max_iter: int = 300,
    morgan: bool = True,
    X: np.ndarray | None = None,
):
    """chemcore.descriptor_model.DescriptorModel: per output, a bag of gradient-boosted trees
    (`fit_trees`) on `descriptor_model_names`, fitted on the molecules measured for it among
    ``smiles`` (the fitting split; ``y`` (n, outputs), NaN = unmeasured). ``X``: those
    descriptor rows, where the caller has them already (computing them takes about 25 s for
    the full fitting split)."""
    from chemcore.descriptor_model import DescriptorModel, Trees

    from .data import full_descriptors

    names = descriptor_model_names(morgan)
    if X is None:
        X = full_descriptors(smiles, names)
    outputs = []
    for t in range(y.shape[1]):
        m = np.isfinite(y[:, t])
        if m.sum() < 20:
            outputs.append(None)
            continue
        outputs.append(Trees.from_sklearn(fit_trees(X[m], y[m, t], seed, max_iter)))
    return DescriptorModel(descriptors=names, outputs=outputs)


# Torch threads for the descriptor and graph network fits. On two threads the graph network's
# fit is not repeatable (one refit in six of the same small set gave other weights, while six on
# one thread agreed), and a float sum split over another number of threads rounds differently:
# fixed at one thread here, a finish from saved members and a whole `python -m training` (whose
# members also train on TrainConfig.threads = 1) give the same network files.
NETWORK_THREADS = 1


def _network_threads(fit):
    """Run a network fit on NETWORK_THREADS torch threads, then restore the caller's count."""

    @functools.wraps(fit)
    def pinned(*args, **kwargs):
        import torch

        before = torch.get_num_threads()
        torch.set_num_threads(NETWORK_THREADS)
        try:
            return fit(*args, **kwargs)
        finally:
            torch.set_num_threads(before)

    return pinned


# Fits that do not depend on each other (the graph network's nets, the error model's folds) run
# in up to FIT_JOBS worker processes at once. Each fit pins one thread and draws only from its
# own seed, so the files are the same to the bit as from one fit after another
# (tests/training/test_parallel_fits.py); one after another, a 2-core run kept about 1.4
# cores busy. TRAINING_JOBS=1 fits them in this process.
FIT_JOBS = max(1, int(os.environ.get("TRAINING_JOBS") or min(2, os.cpu_count() or 1)))


def _flushes_denormals() -> bool:
    """Whether torch flushes denormal floats here (train.set_seed turns it on); a worker does
    as its parent, since it changes the last bits of a fit."""
    import torch

    return (torch.tensor([1e-30]) * torch.tensor([1e-10])).item() == 0.0


def _start_worker(flush_denormals: bool) -> None:
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_flush_denormal(flush_denormals)
    torch.set_num_threads(NETWORK_THREADS)
    threadpool_limits(1, user_api="openmp")  # the trees' fits: the same result on any count


def in_parallel(function, calls: list[tuple], jobs: int | None = None):
    """``function(*args)`` for each of ``calls``, yielded in the order of ``calls``; in up to
    ``jobs`` (FIT_JOBS) spawned processes where there is more than one of each. ``function``
    must be a module-level function (it is pickled by name)."""
    jobs = min(FIT_JOBS if jobs is None else jobs, len(calls))
    if jobs <= 1:
        yield from (function(*args) for args in calls)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(
        jobs,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=(_flushes_denormals(),),
    ) as pool:
        futures = [pool.submit(function, *args) for args in calls]
        yield from (future.result() for future in futures)


# The descriptor network (chemcore.descriptor_mlp) beside the trees: MLP_NETS multi-task
# perceptrons on the same row, each early-stopped on a 10 % scaffold hold-out of the fitting
# rows (seeded), their mean blended with the trees per output on validation. Chosen on split
# 3.1's validation: docs/studies/v3.2-descriptor-mlp.md.
MLP_NETS = 5
MLP_HIDDEN = (512, 256)
MLP_EPOCHS = 80


@_network_threads
def fit_descriptor_mlp(
    smiles: list[str],
    y: np.ndarray,
    descriptors: list[str],
    seed: int = 0,
    X: np.ndarray | None = None,
    epochs: int = MLP_EPOCHS,
    log=None,
    nets: int = MLP_NETS,
):
    """chemcore.descriptor_mlp.DescriptorMLP fitted on the fitting split (``y`` (n, outputs),
    NaN = unmeasured; the loss is the mean squared error of the standardised targets over the
    measured ones). Each net keeps the epoch with the lowest hold-out error, averaged over the
    outputs measured there, so small outputs count as much as logS."""
    import torch

    from chemcore.descriptor_mlp import DescriptorMLP
    from chemcore.descriptors import MORGAN_PREFIX

    from .data import full_descriptors, scaffold_split

    if X is None:
        X = full_descriptors(smiles, descriptors)
    scaled = sum(not name.startswith(MORGAN_PREFIX) for name in descriptors)
    if any(name.startswith(MORGAN_PREFIX) for name in descriptors[:scaled]):
        raise ValueError("the Morgan counts must come after the RDKit descriptors")
    head = np.where(np.isfinite(X[:, :scaled]), X[:, :scaled], np.nan)
    with np.errstate(all="ignore"):
        low, high = np.nanpercentile(head, 1, axis=0), np.nanpercentile(head, 99, axis=0)
        clipped = np.clip(head, low, high)
        mean, std = np.nanmean(clipped, axis=0), np.nanstd(clipped, axis=0)
    low, high, mean = (
        np.nan_to_num(a).astype(np.float32).astype(np.float64) for a in (low, high, mean)
    )
    std = (np.nan_to_num(std) + 1e-6).astype(np.float32).astype(np.float64)
    t_mean, t_std = np.nanmean(y, axis=0), np.nanstd(y, axis=0)
    t_mean, t_std = np.nan_to_num(t_mean), np.where(np.nan_to_num(t_std) > 0, t_std, 1.0)
    model = DescriptorMLP(
        descriptors=list(descriptors),
        scaled=scaled,
        clip_low=low,
        clip_high=high,
        mean=mean,
        std=std,
        target_mean=t_mean,
        target_std=t_std,
        nets=[],
    )
    Z = torch.tensor(model.inputs(X))
    Y = torch.tensor(((y - t_mean) / t_std).astype(np.float32))
    fit, held = scaffold_split(smiles, 0.1, seed)
    for k in range(nets):
        torch.manual_seed(seed + k)
        sizes = [Z.shape[1], *MLP_HIDDEN, y.shape[1]]
        layers: list = []
        for i in range(len(sizes) - 1):
            layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
            if i < len(sizes) - 2:
                layers += [torch.nn.ReLU(), torch.nn.Dropout(0.2)]
        net = torch.nn.Sequential(*layers)
        opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-4)
        order = torch.Generator().manual_seed(seed + k)
        xf, yf, xh, yh = Z[fit], Y[fit], Z[held], Y[held]
        best = (float("inf"), None, -1)
        for epoch in range(epochs):
            net.train()
            for idx in torch.randperm(len(xf), generator=order).split(128):
                target = yf[idx]
                measured = torch.isfinite(target)
                if not measured.any():
                    continue
                loss = ((net(xf[idx]) - torch.nan_to_num(target)) ** 2)[measured].mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
            net.eval()
            with torch.no_grad():
                out, seen = net(xh), torch.isfinite(yh)
                scores = [
                    float(((out[:, t] - yh[:, t])[seen[:, t]] ** 2).mean())
                    for t in range(y.shape[1])
                    if int(seen[:, t].sum()) > 5
                ]
            score = float(np.mean(scores)) if scores else -float(epoch)  # none held: the last
            if score < best[0]:
                best = (score, {n: v.clone() for n, v in net.state_dict().items()}, epoch)
        net.load_state_dict(best[1])
        linear = [m for m in net if isinstance(m, torch.nn.Linear)]
        model.nets.append(
            [(m.weight.detach().numpy().T.copy(), m.bias.detach().numpy().copy()) for m in linear]
        )
        if log is not None:
            log(f"descriptor network {k}: best epoch {best[2]} (hold-out {best[0]:.3f})")
    return model


# The graph network (chemcore.graph_network) beside the descriptor learners: GRAPH_NETS
# message-passing networks, each early-stopped on a 10 % scaffold hold-out of the fitting rows
# (seeded), their mean mixed in per output on validation after the descriptor network. Chosen
# on split 3.1's validation: docs/studies/v3.3-graph-network.md.
GRAPH_NETS = 3
GRAPH_HIDDEN = 300
GRAPH_DEPTH = 3
GRAPH_EPOCHS = 40
GRAPH_BATCH = 50


@_network_threads
def fit_graph_network(
    smiles: list[str],
    y: np.ndarray,
    seed: int = 0,
    epochs: int = GRAPH_EPOCHS,
    log=None,
    nets: int = GRAPH_NETS,
    jobs: int | None = None,
):
    """chemcore.graph_network.GraphNetwork fitted on the fitting split (``y`` (n, outputs),
    NaN = unmeasured): the mean squared error of the standardised targets over the measured
    ones, AdamW with a one-cycle learning rate (peak 1e-3). Each net keeps the epoch with the
    lowest hold-out error averaged over the outputs measured there. The torch module computes
    what chemcore.graph_network's NumPy forward does, on the same features. The nets are
    fitted `in_parallel` (``jobs``)."""
    from chemcore import graph_network as GN

    t_mean, t_std = _graph_targets(y)
    with np.errstate(all="ignore"):
        low, high = np.nanmin(y, axis=0), np.nanmax(y, axis=0)
    model = GN.GraphNetwork(
        depth=GRAPH_DEPTH,
        target_mean=t_mean,
        target_std=t_std,
        target_low=np.where(np.isfinite(low), low, -np.inf),
        target_high=np.where(np.isfinite(high), high, np.inf),
    )
    calls = [(list(smiles), y, seed, k, epochs) for k in range(nets)]
    for k, (net, epoch, score) in enumerate(in_parallel(_fit_graph_net, calls, jobs)):
        model.nets.append(net)
        if log is not None:
            log(f"graph network {k}: best epoch {epoch} (hold-out {score:.3f})")
    return model


def _graph_targets(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The graph network's target scaling: each output's mean and SD (1 where it has none)."""
    t_mean, t_std = np.nanmean(y, axis=0), np.nanstd(y, axis=0)
    return np.nan_to_num(t_mean), np.where(np.nan_to_num(t_std) > 0, t_std, 1.0)


@_network_threads
def _fit_graph_net(smiles: list[str], y: np.ndarray, seed: int, k: int, epochs: int):
    """Net ``k`` of `fit_graph_network`, depending only on its arguments (a worker process runs
    it): (chemcore.graph_network.Net, its best epoch, that epoch's hold-out error)."""
    import torch

    from chemcore import graph_network as GN

    from .data import scaffold_split

    graphs = [GN.featurise(s) for s in smiles]
    if any(g is None for g in graphs):  # raised in the caller too, from a worker
        raise ValueError("the graph network's fitting SMILES must all be readable")
    t_mean, t_std = _graph_targets(y)
    Y = ((y - t_mean) / t_std).astype(np.float32)
    fit, held = scaffold_split(smiles, 0.1, seed)
    fit, held = np.asarray(fit, dtype=np.int64), np.asarray(held, dtype=np.int64)
    hidden, outputs = GRAPH_HIDDEN, y.shape[1]

    def tensors(batch):
        return {
            k: torch.from_numpy(getattr(batch, k))
            for k in ("atoms", "source", "target", "reverse", "bonds", "molecule")
        } | {"size": batch.size}

    class Module(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.input = torch.nn.Linear(GN.ATOM_FEATURES + GN.BOND_FEATURES, hidden, bias=False)
            self.message = torch.nn.Linear(hidden, hidden, bias=False)
            self.atom = torch.nn.Linear(GN.ATOM_FEATURES + hidden, hidden)
            self.head = torch.nn.Sequential(
                torch.nn.Dropout(0.1),
                torch.nn.Linear(2 * hidden, hidden),
                torch.nn.ReLU(),
                torch.nn.Dropout(0.1),
                torch.nn.Linear(hidden, outputs),
            )

        def forward(self, b):
            atoms, source, target = b["atoms"], b["source"], b["target"]
            first = torch.relu(self.input(torch.cat([atoms[source], b["bonds"]], 1)))
            h = first
            for _ in range(GRAPH_DEPTH - 1):
                arriving = torch.zeros(len(atoms), hidden).index_add_(0, target, h)
                h = torch.relu(first + self.message(arriving[source] - h[b["reverse"]]))
            arriving = torch.zeros(len(atoms), hidden).index_add_(0, target, h)
            states = torch.relu(self.atom(torch.cat([atoms, arriving], 1)))
            counts = torch.zeros(b["size"]).index_add_(0, b["molecule"], torch.ones(len(atoms)))
            summed = torch.zeros(b["size"], hidden).index_add_(0, b["molecule"], states)
            return self.head(torch.cat([summed / counts[:, None], summed / 10.0], 1))

    def run(net, rows):
        net.eval()
        with torch.no_grad():
            return (
                np.concatenate(
                    [
                        net(tensors(GN.collate([graphs[i] for i in rows[k : k + 256]]))).numpy()
                        for k in range(0, len(rows), 256)
                    ]
                )
                if len(rows)
                else np.zeros((0, outputs), np.float32)
            )

    steps = epochs * math.ceil(len(fit) / GRAPH_BATCH)
    torch.manual_seed(seed + k)
    net = Module()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-5)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=1e-3, total_steps=max(steps, 1), pct_start=0.1
    )
    rng = np.random.default_rng(seed + k)
    best = (float("inf"), None, -1)
    for epoch in range(epochs):
        net.train()
        order = rng.permutation(fit)
        for start in range(0, len(order), GRAPH_BATCH):
            rows = order[start : start + GRAPH_BATCH]
            target = torch.from_numpy(Y[rows])
            measured = torch.isfinite(target)
            out = net(tensors(GN.collate([graphs[i] for i in rows])))
            if measured.any():
                loss = ((out - torch.nan_to_num(target)) ** 2)[measured].mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
            schedule.step()
        out, yh = run(net, held), Y[held]
        scores = [
            float(np.mean((out[:, t] - yh[:, t])[np.isfinite(yh[:, t])] ** 2))
            for t in range(outputs)
            if int(np.isfinite(yh[:, t]).sum()) > 5
        ]
        score = float(np.mean(scores)) if scores else -float(epoch)  # none held: the last
        if score < best[0]:
            best = (score, {n: v.clone() for n, v in net.state_dict().items()}, epoch)
    net.load_state_dict(best[1])
    head = [m for m in net.head if isinstance(m, torch.nn.Linear)]
    numpy = lambda p: p.detach().numpy().T.copy()  # noqa: E731
    fitted = GN.Net(
        w_input=numpy(net.input.weight),
        w_message=numpy(net.message.weight),
        w_atom=numpy(net.atom.weight),
        b_atom=net.atom.bias.detach().numpy().copy(),
        head=[(numpy(m.weight), m.bias.detach().numpy().copy()) for m in head],
    )
    return fitted, best[2], best[0]


# The error model's out-of-fold networks (`fit_error_model` with `mix`): one descriptor network
# and one graph network per fold, the graph network for ERROR_GRAPH_EPOCHS (the error model needs
# the errors' pattern, not the best value; chosen in docs/studies/v3.4-error-model-on-mix.md).
ERROR_GRAPH_EPOCHS = 20
ERROR_FOLDS = 5


def fit_error_model(
    smiles: list[str],
    y: np.ndarray,
    descriptors: list[str],
    seed: int = 0,
    X: np.ndarray | None = None,
    mix: list[tuple[float, float]] | None = None,
    log=None,
    jobs: int | None = None,
):
    """chemcore.uncertainty's error model: per output, trees predicting |error| of the
    descriptor value from the descriptor row and that value (column "TreesValue:<t>"), on
    ERROR_FOLDS-fold out-of-fold predictions over the fitting rows. Without ``mix``, the value
    is the descriptor trees' (the same trees as `fit_descriptor_model`, folds over each
    output's measured rows). With ``mix`` (per output the descriptor and graph networks'
    weights (g, g_graph), as fitted on validation), it is the value the site serves as the
    descriptor model's: (1 - g_graph) * ((1 - g) * trees + g * network) + g_graph * graph,
    each part fitted per fold (folds over all fitting rows, the networks multi-task), so σ
    sizes the errors of the value it is given with (EnsembleManifest.error_value "mix"); the
    folds are fitted `in_parallel` (``jobs``).
    None where fewer than 100 molecules are measured. ``X``: the rows of `descriptors`,
    where the caller has them."""
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.model_selection import KFold

    from chemcore.descriptor_model import DescriptorModel, Trees, error_columns

    from .data import full_descriptors

    if X is None:
        X = full_descriptors(smiles, descriptors)
    values = None
    if mix is not None:
        values = _mixed_out_of_fold(smiles, y, descriptors, seed, X, mix, log, jobs)
    outputs = []
    for t in range(y.shape[1]):
        m = np.isfinite(y[:, t])
        if m.sum() < 100:
            outputs.append(None)
            continue
        Xt, yt = X[m], y[m, t]
        if values is not None:
            oof = values[m, t]
        else:
            oof = np.zeros(len(yt))
            for fit, held in KFold(ERROR_FOLDS, shuffle=True, random_state=seed).split(Xt):
                bag = fit_trees(Xt[fit], yt[fit], seed)
                oof[held] = np.mean([b.predict(Xt[held]) for b in bag], 0)
        extra = np.zeros((len(yt), y.shape[1]))
        extra[:, t] = oof
        model = HistGradientBoostingRegressor(
            random_state=seed, max_iter=200, learning_rate=0.05, min_samples_leaf=40
        )
        model.fit(np.column_stack([Xt, extra]), np.abs(oof - yt))
        outputs.append(Trees.from_sklearn(model))
    return DescriptorModel(
        descriptors=error_columns(list(descriptors), y.shape[1]), outputs=outputs
    )


def _mixed_out_of_fold(smiles, y, descriptors, seed, X, mix, log=None, jobs=None) -> np.ndarray:
    """(n, outputs) out-of-fold descriptor values mixed as served (`fit_error_model`); NaN for
    an output with fewer than 100 measured molecules. The folds are fitted `in_parallel`."""
    from sklearn.model_selection import KFold

    smiles = np.array(smiles, dtype=object)
    trees, network, graph = (np.zeros(y.shape) for _ in range(3))
    fitted = [int(np.isfinite(y[:, t]).sum()) >= 100 for t in range(y.shape[1])]
    mlp, graph_mixed = any(g for g, _ in mix), any(h for _, h in mix)
    folds = list(KFold(ERROR_FOLDS, shuffle=True, random_state=seed).split(X))
    calls = [
        (smiles[fit].tolist(), y[fit], X[fit], smiles[held].tolist(), X[held], descriptors)
        + (seed, f, fitted, mlp, graph_mixed)
        for f, (fit, held) in enumerate(folds)
    ]
    for f, done in enumerate(in_parallel(_fold_values, calls, jobs)):
        held = folds[f][1]
        trees[held], network[held], graph[held] = done
        if log is not None:
            log(f"error model: out-of-fold values, fold {f + 1}/{ERROR_FOLDS}")
    from chemcore.descriptor_mlp import blend

    value = blend(blend(trees, network, [g for g, _ in mix]), graph, [h for _, h in mix])
    value[:, [not k for k in fitted]] = np.nan
    return value


def _fold_values(smiles, y, X, held_smiles, held_X, descriptors, seed, f, fitted, mlp, graph):
    """Fold ``f`` of `_mixed_out_of_fold` (a worker process may run it): the held rows' values
    of the trees, the descriptor network and the graph network fitted on the others (zeros for
    a part not mixed in, or an output whose trees are not fitted)."""
    trees = np.zeros((len(held_X), y.shape[1]))
    for t in range(y.shape[1]):
        m = np.isfinite(y[:, t])
        if fitted[t]:
            bag = fit_trees(X[m], y[m, t], seed)
            trees[:, t] = np.mean([b.predict(held_X) for b in bag], 0)
    network, graph_values = np.zeros_like(trees), np.zeros_like(trees)
    if mlp:
        net = fit_descriptor_mlp(smiles, y, descriptors, seed=seed + f, X=X, nets=1)
        network = net.predict(held_X)
    if graph:
        nets = fit_graph_network(
            smiles, y, seed=seed + f, epochs=ERROR_GRAPH_EPOCHS, nets=1, jobs=1
        )
        graph_values = nets.predict(held_smiles)
    return trees, network, graph_values


def mean_baselines(splits, tasks: list[str]) -> dict:
    """Only the training-mean predictor (quick runs)."""
    from .data import LOGS

    res = {}
    for t, label in enumerate(tasks):
        tr = splits.train_y[:, t]
        tr = tr[np.isfinite(tr)]
        sets = {label: splits.test_y[label]}
        if t == LOGS:
            sets["external"] = splits.external_y
        for key, ty in sets.items():
            res[key] = {
                "mean": model_metrics(ty, np.full(len(ty), tr.mean())),
                "rf": None,
                "gbm": None,
            }
    return res
