import pickle, sys, numpy as np
from rdkit import Chem
from training import data as D
S = D.make_splits(version="3.1")
served = pickle.load(open("var/study/served32_val.pkl", "rb"))
q = np.mean(pickle.load(open(sys.argv[1], "rb")), 0)
t = 0
m = np.isfinite(S.val_y[:, t]) & np.isfinite(served[:, t])
vs = [s for s, k in zip(S.val_smiles, m) if k]; y = S.val_y[m, t]; e = q[m, t] - y; es = served[m, t] - y
n = np.array([Chem.MolFromSmiles(s).GetNumHeavyAtoms() for s in vs])
for lo, hi in [(0, 10), (10, 20), (20, 30), (30, 50), (50, 500)]:
    ii = (n >= lo) & (n < hi)
    print(f"atoms {lo}-{hi}", ii.sum(), "gnn", np.sqrt(np.mean(e[ii]**2)).round(3), "served", np.sqrt(np.mean(es[ii]**2)).round(3))
o = np.argsort(-np.abs(e))[:12]
for i in o: print(round(e[i], 2), round(es[i], 2), y[i], vs[i][:80])
