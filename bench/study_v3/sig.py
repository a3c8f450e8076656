# ruff: noqa  (study scratch, kept in history only)
"""Candidate σ forms, chosen by 2-fold CV on validation (repeated); test shown as a check."""

import pickle

import numpy as np
from scipy.optimize import minimize
from scipy.stats import spearmanr

Z = 1.6448536269514722
C = pickle.load(open("var/study/cache.pkl", "rb"))


def feats(b):
    d = 1 - b["nearest"]
    g = np.abs(b["mean"] - b["trees"])
    r = np.abs(np.nan_to_num(b["near"] - b["p"]))
    return {"s": b["spread"], "d": d, "g": g, "r": r, "one": np.ones_like(d)}


FORMS = {
    "now": ["s", "d"],
    "s,d,1": ["s", "d", "one"],
    "s,d,g": ["s", "d", "g"],
    "s,d,g,1": ["s", "d", "g", "one"],
    "s,d,g,r,1": ["s", "d", "g", "r", "one"],
    "d,g,1": ["d", "g", "one"],
}


def fit(F, names, y, p):
    X = np.stack([F[n] for n in names], 1)
    e2 = (p - y) ** 2

    def nll(th):
        v = (X**2) @ np.exp(2 * th) + 1e-9
        return float(np.sum(0.5 * np.log(v) + 0.5 * e2 / v))

    th0 = np.log(
        np.full(len(names), np.sqrt(e2.mean()) / max(1e-3, np.mean([F[n].mean() for n in names])))
    )
    best = minimize(
        nll, th0, method="Nelder-Mead", options={"maxiter": 4000, "xatol": 1e-4, "fatol": 1e-6}
    )
    c = np.exp(best.x)
    sig = np.sqrt((X**2) @ c**2)
    k = np.percentile(np.abs(p - y) / sig, 90) / Z
    return c * k


def sigma(F, names, c):
    X = np.stack([F[n] for n in names], 1)
    return np.sqrt((X**2) @ c**2)


def q(y, p, s):
    e = np.abs(p - y)
    return spearmanr(e, s).statistic, np.mean(e <= Z * s)


for label in C["tasks"]:
    V, T = C["val"][label], C["test"][label]
    FV, FT = feats(V), feats(T)
    print(
        f"\n{label}  val n={len(V['y'])} test n={len(T['y'])}  |dmed val {np.median(FV['d']):.2f} test {np.median(FT['d']):.2f}"
    )
    for name, names in FORMS.items():
        # 2-fold CV on val, 20 repeats
        rng = np.random.default_rng(0)
        rhos, covs = [], []
        n = len(V["y"])
        if n >= 40:
            for _ in range(20):
                idx = rng.permutation(n)
                a, b = idx[: n // 2], idx[n // 2 :]
                for tr, te in ((a, b), (b, a)):
                    c = fit({k: v[tr] for k, v in FV.items()}, names, V["y"][tr], V["p"][tr])
                    r, cv = q(
                        V["y"][te], V["p"][te], sigma({k: v[te] for k, v in FV.items()}, names, c)
                    )
                    rhos.append(r)
                    covs.append(cv)
        c = fit(FV, names, V["y"], V["p"])
        rt, ct = q(T["y"], T["p"], sigma(FT, names, c))
        print(
            f"  {name:12s} valCV rho {np.mean(rhos) if rhos else np.nan:.3f} cov {np.mean(covs) if covs else np.nan:.3f} | test rho {rt:.3f} cov {ct:.3f}  c={np.round(c, 3)}"
        )
