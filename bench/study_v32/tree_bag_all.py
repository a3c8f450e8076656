"""Descriptor trees alone on split 3.1's validation, every output: default (the shipped recipe)
vs max_features 0.1, one seed and K seeds averaged. Validation only decides."""
import pickle, time, numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor
from training import data as D
from training.evaluate import descriptor_model_names
t0 = time.time()
S = D.make_splits(version="3.1")
names = descriptor_model_names()
X = pickle.load(open("var/study/tree_noise_X.pkl", "rb"))
need = [s for s in S.train_smiles + S.val_smiles if s not in X]
if need:
    X.update(zip(need, D.full_descriptors(need, names)))
print("rows", time.time() - t0, flush=True)
Xf = np.array([X[s] for s in S.train_smiles]); Xv = np.array([X[s] for s in S.val_smiles])
rmse = lambda p, y: float(np.sqrt(np.mean((p - y) ** 2)))
res = {}
for t, lab in enumerate(D.TASKS):
    mf, mv = np.isfinite(S.train_y[:, t]), np.isfinite(S.val_y[:, t])
    yf, yv = S.train_y[mf, t], S.val_y[mv, t]
    def preds(k, **kw):
        return [HistGradientBoostingRegressor(random_state=s, max_iter=300, **kw).fit(Xf[mf], yf).predict(Xv[mv]) for s in range(k)]
    d = preds(1)[0]; m5 = preds(5, max_features=0.1)
    row = {"n": int(mv.sum()), "default": rmse(d, yv), "mf0.1": rmse(m5[0], yv),
           "mf0.1x3": rmse(np.mean(m5[:3], 0), yv), "mf0.1x5": rmse(np.mean(m5, 0), yv)}
    res[lab] = row
    print(lab, {k: round(v, 3) for k, v in row.items()}, f"{time.time()-t0:.0f}s", flush=True)
pickle.dump(res, open("var/study/tree_bag_all.pkl", "wb"))
