"""How much of logS's validation error is label noise? AqSolDB's sd (between measurements of
one compound, rows with occurrences >= 2) against the served value's |error| (split 3.1 val)."""
import json, pickle
import numpy as np, pandas as pd
from scipy.stats import spearmanr
from training import data as D
from training.evaluate import read_across_neighbours
from chemcore.readacross import blend
S = D.make_splits(version="3.1")
man = json.load(open("checkpoints/default/ensemble.json"))
P = pickle.load(open("var/study/krr_pieces.pkl", "rb"))
t = D.LOGS; mv = np.isfinite(S.val_y[:, t])
p = 0.05 * P["members"].mean(0)[mv, t] + 0.95 * P["trees"][mv, t]
vs, vy = [s for s, k in zip(S.val_smiles, mv) if k], S.val_y[mv, t]
df = pd.read_csv(D.REPO_DATA / "aqsoldb" / "aqsoldb_train.csv")
info = {}
for (kind, text, std, v), (_, r) in zip(D._aqsoldb_rows(), df.iterrows()):
    if kind == "parent":
        info.setdefault(std, (r["sd"], r["occurrences"], r["group"], v))
e = np.abs(p - vy)
rows = [(e[i], *info[s]) for i, s in enumerate(vs) if s in info and abs(info[s][3] - vy[i]) < 1e-6]
a = np.array([(r[0], r[1], r[2]) for r in rows], float)
print("val logS", len(vy), "from AqSolDB with same value", len(rows), "RMSE all", np.sqrt(np.mean(e**2)).round(3))
multi = a[:, 2] >= 2
print("occurrences>=2:", multi.sum(), "RMSE", np.sqrt(np.mean(a[multi, 0] ** 2)).round(3), "rms sd", np.sqrt(np.mean(a[multi, 1] ** 2)).round(3),
      "spearman(|e|, sd)", round(spearmanr(a[multi, 0], a[multi, 1])[0], 3))
print("single:", (~multi).sum(), "RMSE", np.sqrt(np.mean(a[~multi, 0] ** 2)).round(3))
for g in ["G1", "G2", "G3", "G4", "G5"]:
    k = np.array([r[3] == g for r in rows])
    if k.any(): print(g, k.sum(), "RMSE", np.sqrt(np.mean(a[k, 0] ** 2)).round(3))
