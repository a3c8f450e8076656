# ruff: noqa  (study scratch, kept in history only)
import pickle

import numpy as np

C = pickle.load(open("var/study/cache.pkl", "rb"))
bins = [0, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 1.01]
for label in C["tasks"]:
    for part in ("val", "test"):
        B = C[part][label]
        e = B["p"] - B["y"]
        s = B["nearest"]
        row = []
        for lo, hi in zip(bins, bins[1:]):
            m = (s >= lo) & (s < hi)
            row.append(
                f"{lo:.2f}-{hi:.2f}: {m.sum():4d} {np.sqrt(np.mean(e[m] ** 2)) if m.any() else float('nan'):.3f}"
            )
        print(label[:12], part, " | ".join(row))
