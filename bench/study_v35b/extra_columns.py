# ruff: noqa  (a one-off study script, kept in git history only: docs/studies/v3.4-logS-trees.md)
import json
import pickle
import time

import numpy as np
from rdkit import Chem
from rdkit.Chem import MACCSkeys, rdFingerprintGenerator

from training import data as D
from training.evaluate import fit_trees

c = pickle.load(open("var/study9/rows.pkl", "rb"))
s = D.make_splits()
assert s.val_smiles == c["val_smiles"]
meta = json.load(open("checkpoints/default/metrics.json"))["descriptor_blend"]
g, h = meta["network"]["weight"][0], meta["graph"]["weight"][0]
fm = rdFingerprintGenerator.GetMorganGenerator(
    radius=2,
    fpSize=1024,
    atomInvariantsGenerator=rdFingerprintGenerator.GetMorganFeatureAtomInvGen(),
)
ap = rdFingerprintGenerator.GetAtomPairGenerator(fpSize=1024)


def extra(smiles, kind):
    rows = []
    for x in smiles:
        m = Chem.MolFromSmiles(x)
        if kind == "F":
            rows.append(fm.GetCountFingerprintAsNumPy(m))
        elif kind == "P":
            rows.append(ap.GetCountFingerprintAsNumPy(m))
        else:
            rows.append(np.array(list(MACCSkeys.GenMACCSKeys(m)), dtype=float))
    return np.array(rows, dtype=float)


t = 0
mf, mv = np.isfinite(c["yf"][:, t]), np.isfinite(c["yv"][:, t])
ya, yb = c["yf"][mf, t], c["yv"][mv, t]
fs = [x for x, k in zip(s.train_smiles, mf) if k]
vs = [x for x, k in zip(s.val_smiles, mv) if k]
mlp, gn = c["mlp"][mv, t], c["gn"][mv, t]
grid = np.round(np.linspace(0, 1, 21), 2)


def mixed(tr, gg, hh, idx):
    return (1 - hh) * ((1 - gg) * tr[idx] + gg * mlp[idx]) + hh * gn[idx]


def fit_gh(tr, idx):
    return min(
        (np.mean((mixed(tr, gg, hh, idx) - yb[idx]) ** 2), gg, hh) for gg in grid for hh in grid
    )[1:]


A = c["shipped"][mv, t]


def rm(p):
    return float(np.sqrt(np.mean((p - yb) ** 2)))


all_idx = np.arange(len(yb))
print("A", rm(A), rm(mixed(A, g, h, all_idx)), flush=True)
for kind in ("F", "M", "P"):
    t0 = time.time()
    Xa = np.column_stack([c["Xf"][mf], extra(fs, kind)])
    Xb = np.column_stack([c["Xv"][mv], extra(vs, kind)])
    tr = np.mean([m.predict(Xb) for m in fit_trees(Xa, ya, 0)], axis=0)
    rng = np.random.default_rng(0)
    e = []
    for _ in range(50):
        perm = rng.permutation(len(yb))
        a, b = perm[: len(yb) // 2], perm[len(yb) // 2 :]
        for f, o in ((a, b), (b, a)):
            e.append(
                (
                    np.mean((mixed(tr, *fit_gh(tr, f), o) - yb[o]) ** 2),
                    np.mean((mixed(A, *fit_gh(A, f), o) - yb[o]) ** 2),
                )
            )
    e = np.array(e)
    print(
        kind,
        "trees",
        round(rm(tr), 4),
        "mix",
        round(rm(mixed(tr, g, h, all_idx)), 4),
        "cv ratio",
        round(float(np.sqrt(e[:, 0].mean() / e[:, 1].mean())), 4),
        round(time.time() - t0),
        "s",
        flush=True,
    )
