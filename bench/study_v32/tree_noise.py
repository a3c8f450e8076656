"""How much do logS's descriptor trees move when ~100 fitting molecules change? And does
a bag of trees (mean of K fits on 90 % subsamples) move less / score better on validation?"""
import pickle, sys, time, numpy as np
from pathlib import Path
from sklearn.ensemble import HistGradientBoostingRegressor
from training import data as D
from training.evaluate import descriptor_model_names
t0 = time.time()
L = D.LOGS; lab = D.TASKS[L]
S30 = D.make_splits(version="3.0"); S31 = D.make_splits(version="3.1")
def rows(smi, Y):
    m = np.isfinite(Y[:, L]); return [s for s, k in zip(smi, m) if k], Y[m, L]
f30 = rows(S30.train_smiles, S30.train_y); v30 = rows(S30.val_smiles, S30.val_y)
f31 = rows(S31.train_smiles, S31.train_y); v31 = rows(S31.val_smiles, S31.val_y)
test = (S30.test_smiles[lab], S30.test_y[lab])
print("fit 3.0", len(f30[0]), "fit 3.1", len(f31[0]), "sym diff", len(set(f30[0]) ^ set(f31[0])), "val", len(v30[0]), len(v31[0]), flush=True)
cache = Path("var/study/tree_noise_X.pkl")
allsmi = sorted(set(f30[0]) | set(f31[0]) | set(v30[0]) | set(v31[0]) | set(test[0]))
if cache.exists():
    X = pickle.load(open(cache, "rb"))
else:
    X = dict(zip(allsmi, D.full_descriptors(allsmi, descriptor_model_names())))
    pickle.dump(X, open(cache, "wb"))
print("X", time.time() - t0, flush=True)
M = lambda smi: np.array([X[s] for s in smi])
def fit(smi, y, seed=0, **kw):
    return HistGradientBoostingRegressor(random_state=seed, max_iter=300, **kw).fit(M(smi), y)
rmse = lambda p, y: float(np.sqrt(np.mean((p - y) ** 2)))
Xt, Xv30, Xv31 = M(test[0]), M(v30[0]), M(v31[0])
def report(name, models):
    pt = np.mean([m.predict(Xt) for m in models], 0)
    print(f"{name:28s} val30 {rmse(np.mean([m.predict(Xv30) for m in models],0), v30[1]):.3f} "
          f"val31 {rmse(np.mean([m.predict(Xv31) for m in models],0), v31[1]):.3f} test {rmse(pt, test[1]):.3f}  {time.time()-t0:.0f}s", flush=True)
    return pt
mode = sys.argv[1] if len(sys.argv) > 1 else "all"
if mode in ("all", "base"):
    report("single 3.0", [fit(*f30)]); report("single 3.1", [fit(*f31)])
if mode in ("all", "perturb"):
    rng = np.random.default_rng(1)
    for r in range(5):
        keep = rng.choice(len(f30[0]), len(f30[0]) - 100, replace=False)
        report(f"3.0 minus 100 #{r}", [fit([f30[0][i] for i in keep], f30[1][keep])])
if mode in ("all", "bag"):
    for name, f in (("3.0", f30), ("3.1", f31)):
        rng = np.random.default_rng(2); ms = []
        for k in range(5):
            keep = rng.choice(len(f[0]), int(0.9 * len(f[0])), replace=False)
            ms.append(fit([f[0][i] for i in keep], f[1][keep], seed=k))
        report(f"bag5 90% {name}", ms)
if mode in ("all", "mf"):
    for name, f in (("3.0", f30), ("3.1", f31)):
        report(f"max_features0.1 {name}", [fit(*f, max_features=0.1)])
        report(f"mf0.1 seeds5 {name}", [fit(*f, seed=k, max_features=0.1) for k in range(5)])
