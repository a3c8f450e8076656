"""If σ were exactly right (e ~ N(0, σ²)), what Spearman(|e|, σ) would its spread allow?
σ as served on split 3.1 validation (shipped factors); 200 simulated draws."""
import json, pickle
import numpy as np
from scipy.stats import spearmanr
from training import data as D
from training.evaluate import read_across_neighbours
from chemcore import descriptor_model as DM
from chemcore.uncertainty import with_error
S = D.make_splits(version="3.1")
man = json.load(open("checkpoints/default/ensemble.json"))
u = man["uncertainty"]; a, b, c = u["scale"], u["distance_scale"], u["error_model"]["scale"]
P = pickle.load(open("var/study/krr_pieces.pkl", "rb"))
X = pickle.load(open("var/study/tree_noise_X.pkl", "rb"))
em = DM.read("checkpoints/default/error_model.json")
need=[s for s in S.val_smiles if s not in X]; X.update(zip(need, D.full_descriptors(need, em.descriptors[:len(next(iter(X.values())))])))
Xv = np.array([X[s] for s in S.val_smiles])
eh = em.predict(DM.error_rows(Xv, P["trees"]))
sp = P["members"].std(0)
rng = np.random.default_rng(0)
for t in (D.LOGS, D.LOGD):
    mv = np.isfinite(S.val_y[:, t])
    measured = sorted((s, v) for s, v in zip(S.train_smiles, S.train_y[:, t]) if np.isfinite(v))
    _, nearest = read_across_neighbours([s for s, k in zip(S.val_smiles, mv) if k], [s for s, _ in measured], [v for _, v in measured])
    inner = with_error(sp[mv, t] * a[t], eh[mv, t], c[t])
    sig = np.sqrt(inner ** 2 + (b[t] * (1 - nearest)) ** 2)
    rs = [spearmanr(np.abs(rng.normal(0, sig)), sig)[0] for _ in range(200)]
    print(D.TASKS[t], "σ max/min", (sig.max() / sig.min()).round(2), "cv of σ", (sig.std() / sig.mean()).round(3),
          "oracle Spearman", np.mean(rs).round(3), "±", np.std(rs).round(3))
