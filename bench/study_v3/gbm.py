# ruff: noqa  (study scratch, kept in history only)
"""Descriptor-tree hyperparameters on validation (trees alone and blended with the members)."""

import pickle
import sys
import time

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor

from chemcore import descriptor_model as DM
from training.data import full_descriptors

C = pickle.load(open("var/study/cache.pkl", "rb"))
dm = DM.read("checkpoints/default/descriptor_model.json")
t0 = time.time()
try:
    F = pickle.load(open("var/study/feats.pkl", "rb"))
except FileNotFoundError:
    F = {"train": full_descriptors(C["train_smiles"], dm.descriptors)}
    for part in ("val", "test"):
        F[part] = {l: full_descriptors(C[part][l]["smiles"], dm.descriptors) for l in C["tasks"]}
    pickle.dump(F, open("var/study/feats.pkl", "wb"))
print("features", time.time() - t0, flush=True)
VARIANTS = {
    "default": dict(max_iter=300),
    "maxfeat0.3": dict(max_iter=300, max_features=0.3),
    "maxfeat0.1": dict(max_iter=300, max_features=0.1),
    "l2=1,leaf40": dict(max_iter=300, l2_regularization=1.0, min_samples_leaf=40),
    "lr.05,600": dict(max_iter=600, learning_rate=0.05),
}
only = sys.argv[1:] or list(VARIANTS)
for t, label in enumerate(C["tasks"]):
    m = np.isfinite(C["train_y"][:, t])
    X, y = F["train"][m], C["train_y"][m, t]
    V, T = C["val"][label], C["test"][label]
    line = [f"{label[:12]:12s}"]
    for name in only:
        g = HistGradientBoostingRegressor(random_state=0, **VARIANTS[name]).fit(X, y)
        out = []
        for part, B in (("val", V), ("test", T)):
            tr = g.predict(F[part][label])
            out.append((tr, B))
        # beta on val (grid), then existing read-across weight is not refit (approximation)
        tv, Bv = out[0]
        grid = np.linspace(0, 1, 21)
        r = [np.sqrt(np.mean(((1 - b) * Bv["mean"] + b * tv - Bv["y"]) ** 2)) for b in grid]
        b = grid[int(np.argmin(r))]
        tt, Bt = out[1]
        rt = np.sqrt(np.mean(((1 - b) * Bt["mean"] + b * tt - Bt["y"]) ** 2))
        rv_trees = np.sqrt(np.mean((tv - Bv["y"]) ** 2))
        line.append(
            f"{name}: trees val {rv_trees:.3f} blend val {min(r):.3f} (b {b:.2f}) test {rt:.3f}"
        )
        print(" | ".join(line), flush=True)
        line = [" " * 12]
    print(f"   ({time.time() - t0:.0f}s)", flush=True)
