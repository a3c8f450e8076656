import pickle, sys, numpy as np
from training import data as D
S = D.make_splits(version="3.1")
served = pickle.load(open("var/study/served32_val.pkl", "rb"))
preds = np.mean(pickle.load(open(sys.argv[1], "rb")), 0)
if len(sys.argv) > 2 and sys.argv[2] == "clip":
    lo, hi = np.nanmin(S.train_y, 0), np.nanmax(S.train_y, 0)
    print("clipped to the fitting range", lo.round(2), hi.round(2))
    preds = np.clip(preds, lo, hi)
rmse = lambda p, y: float(np.sqrt(np.mean((p - y) ** 2)))
G = np.round(np.linspace(0, 1, 21), 2)
for t in range(D.N_TASKS):
    mv = np.isfinite(S.val_y[:, t]) & np.isfinite(served[:, t]); vy = S.val_y[mv, t]
    p = served[mv, t]; q = preds[mv, t]
    rng = np.random.default_rng(0); sn = sc = 0.0
    for r in range(50):
        half = rng.permutation(len(vy)) < len(vy) // 2
        for a, b in ((half, ~half), (~half, half)):
            g = min(G, key=lambda g: (np.mean(((1 - g) * p[a] + g * q[a] - vy[a]) ** 2), g))
            sn += np.sum(((1 - g) * p[b] + g * q[b] - vy[b]) ** 2); sc += np.sum((p[b] - vy[b]) ** 2)
    gfull = min(G, key=lambda g: (np.mean(((1 - g) * p + g * q - vy) ** 2), g))
    print(D.SHORT[t], len(vy), "gnn", round(rmse(q, vy), 3), "served", round(rmse(p, vy), 3),
          "ratio", round(float(np.sqrt(sn / sc)), 4), "g", gfull, "corr", np.corrcoef(q - vy, p - vy)[0, 1].round(2), flush=True)
