# ruff: noqa  (study scratch, kept in history only)
import math
import pickle

import numpy as np

Z = 1.6448536269514722
C = pickle.load(open("var/study/cache.pkl", "rb"))
import json

man = json.load(open("checkpoints/default/ensemble.json"))
a_, b_ = man["uncertainty"]["scale"], man["uncertainty"]["distance_scale"]
for t, label in enumerate(C["tasks"]):
    V, T = C["val"][label], C["test"][label]
    shape = lambda B: np.sqrt((a_[t] * B["spread"]) ** 2 + (b_[t] * (1 - B["nearest"])) ** 2)
    r = np.abs(V["p"] - V["y"]) / shape(V)
    n = len(r)
    k_now = np.percentile(r, 90) / Z
    j = math.ceil((n + 1) * 0.9)
    k_conf = np.sort(r)[min(j, n) - 1] / Z
    eT = np.abs(T["p"] - T["y"])
    sT = shape(T)
    print(
        f"{label[:30]:30s} n={n:4d} k_conf/k_now={k_conf / k_now:.3f} test cov now {np.mean(eT <= Z * sT):.3f} conformal {np.mean(eT <= Z * sT * k_conf / k_now):.3f} "
    )
