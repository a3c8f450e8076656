# ruff: noqa  (a one-off study script, kept in git history only: docs/studies/v3.4-logS-trees.md)
"""Study: descriptor trees boosted from a linear start (decision-linear-init.md)."""

import json
import pickle
import sys
import time
from pathlib import Path

import numpy as np

from chemcore import descriptor_mlp, graph_network
from chemcore import descriptor_model as DM
from training import data as D
from training.evaluate import descriptor_model_names, fit_trees

CACHE = Path("var/study9/rows.pkl")
t0 = time.time()
if CACHE.exists():
    c = pickle.load(open(CACHE, "rb"))
else:
    s = D.make_splits()
    names = descriptor_model_names(True)
    Xf = D.full_descriptors(s.train_smiles, names)
    Xv = D.full_descriptors(s.val_smiles, names)
    ck = Path("checkpoints/default")
    mlp = descriptor_mlp.read(ck / "descriptor_mlp.safetensors").predict(Xv)
    gn = graph_network.read(ck / "graph_network.safetensors").predict(s.val_smiles)
    shipped = DM.read(ck / "descriptor_model.json").predict(Xv)
    c = dict(
        names=names,
        Xf=Xf,
        Xv=Xv,
        yf=s.train_y,
        yv=s.val_y,
        mlp=mlp,
        gn=gn,
        shipped=shipped,
        val_smiles=s.val_smiles,
    )
    pickle.dump(c, open(CACHE, "wb"))
print("rows ready", round(time.time() - t0), "s", flush=True)
meta = json.load(open("checkpoints/default/metrics.json"))["descriptor_blend"]
g = np.array(meta["network"]["weight"])
h = np.array(meta["graph"]["weight"])
names = c["names"]
Xf, Xv, yf, yv = c["Xf"], c["Xv"], c["yf"], c["yv"]
rd = [i for i, n in enumerate(names) if not n.startswith("MorganCount:")]
gse_names = [
    "MolLogP",
    "TPSA",
    "NumHDonors",
    "NumHAcceptors",
    "NumAromaticRings",
    "FractionCSP3",
    "HeavyAtomCount",
    "NumRotatableBonds",
]
gse = [names.index(n) for n in gse_names]

from sklearn.linear_model import RidgeCV


def linear(cols, Xa, ya, Xb):
    lo, hi = np.percentile(Xa[:, cols], 1, axis=0), np.percentile(Xa[:, cols], 99, axis=0)
    A = np.clip(Xa[:, cols], lo, hi)
    B = np.clip(Xb[:, cols], lo, hi)
    mu, sd = A.mean(0), A.std(0)
    sd[sd == 0] = 1
    A = (A - mu) / sd
    B = (B - mu) / sd
    r = RidgeCV(alphas=np.logspace(-1, 4, 11), cv=5).fit(A, ya)
    return r.predict(A), r.predict(B), r.alpha_


tasks = ["logS", "logD", "dG", "HLM", "RLM", "ER", "KSOL"]
only = sys.argv[1:] or tasks
out = {}
for t, k in enumerate(tasks):
    if k not in only:
        continue
    mf, mv = np.isfinite(yf[:, t]), np.isfinite(yv[:, t])
    Xa, ya, Xb, yb = Xf[mf], yf[mf, t], Xv[mv], yv[mv, t]
    lo, hi = ya.min(), ya.max()
    res = {}
    A = np.mean([m.predict(Xb) for m in fit_trees(Xa, ya, 0)], axis=0)
    res["A"] = A
    print(k, "A vs shipped max diff", float(np.abs(A - c["shipped"][mv, t]).max()), flush=True)
    for v, cols in (("L1", rd), ("L2", gse)):
        la, lb, alpha = linear(cols, Xa, ya, Xb)
        tr = np.mean([m.predict(Xb) for m in fit_trees(Xa, ya - la, 0)], axis=0)
        res[v] = np.clip(lb + tr, lo, hi)
        res[v + "_lin"] = lb
        print(k, v, "alpha", alpha, flush=True)

    def rm(p):
        return float(np.sqrt(np.mean((p - yb) ** 2)))

    def mix(tr):
        return (1 - h[t]) * ((1 - g[t]) * tr + g[t] * c["mlp"][mv, t]) + h[t] * c["gn"][mv, t]

    row = {v: (rm(res[v]), rm(mix(res[v]))) for v in ("A", "L1", "L2")}
    row["lin_only"] = (rm(res["L1_lin"]), rm(res["L2_lin"]))
    # 2-fold CV: refit g,h on one half (grid 0..1 by .05) and score the other
    rng = np.random.default_rng(0)
    n = int(mv.sum())
    ratios = {"L1": [], "L2": []}
    grid = np.round(np.linspace(0, 1, 21), 2)

    def fit_gh(tr, idx):
        best = None
        for gg in grid:
            base = (1 - gg) * tr[idx] + gg * c["mlp"][mv, t][idx]
            for hh in grid:
                e = np.mean(((1 - hh) * base + hh * c["gn"][mv, t][idx] - yb[idx]) ** 2)
                if best is None or e < best[0]:
                    best = (e, gg, hh)
        return best[1:]

    def score(tr, gg, hh, idx):
        p = (1 - hh) * ((1 - gg) * tr[idx] + gg * c["mlp"][mv, t][idx]) + hh * c["gn"][mv, t][idx]
        return np.mean((p - yb[idx]) ** 2)

    for _ in range(50):
        perm = rng.permutation(n)
        a, b = perm[: n // 2], perm[n // 2 :]
        for f, o in ((a, b), (b, a)):
            base = score(res["A"], *fit_gh(res["A"], f), o)
            for v in ("L1", "L2"):
                ratios[v].append((score(res[v], *fit_gh(res[v], f), o), base))
    for v in ("L1", "L2"):
        e = np.array(ratios[v])
        row[v + "_cv"] = float(np.sqrt(e[:, 0].mean() / e[:, 1].mean()))
    out[k] = row
    print(k, n, json.dumps(row), flush=True)
json.dump(out, open(f"var/study9/linear_init_{'_'.join(only)}.json", "w"), indent=1)
print("done", round(time.time() - t0), "s")
