"""Error model variants: random vs scaffold-grouped OOF folds, with/without nearest-similarity
feature. Judged on validation (and test, for the record) by Spearman of the composed σ."""
import pickle, time, sys, json
import numpy as np
from scipy.stats import spearmanr
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.model_selection import KFold, GroupKFold
from rdkit import Chem, DataStructs
from training import data as D
from training.evaluate import fit_uncertainty_terms
from chemcore.chemistry import fingerprint
from chemcore.uncertainty import combine, with_error
C = pickle.load(open("var/study/cache.pkl", "rb"))
F = pickle.load(open("var/study/feats.pkl", "rb"))
t0 = time.time()
tasks = [int(a) for a in sys.argv[1:]] or [0, 1]
def fps(smiles): return [fingerprint(Chem.MolFromSmiles(s)) for s in smiles]
def nearest_to(q, ref):
    return np.array([max(DataStructs.BulkTanimotoSimilarity(f, ref)) if ref else 0.0 for f in q])
res = {}
for t in tasks:
    label = C["tasks"][t]
    m = np.isfinite(C["train_y"][:, t])
    X, y = F["train"][m], C["train_y"][m, t]
    smi = [s for s, k in zip(C["train_smiles"], m) if k]
    fp = fps(smi)
    groups = [D.scaffold(s) for s in smi]
    V, T = C["val"][label], C["test"][label]
    ev, et = np.abs(V["p"] - V["y"]), np.abs(T["p"] - T["y"])
    out = {}
    for split_name in ("random", "scaffold"):
        folds = (KFold(5, shuffle=True, random_state=0).split(X) if split_name == "random"
                 else GroupKFold(5).split(X, groups=groups))
        oof = np.zeros(len(y)); near = np.zeros(len(y))
        for tr, te in folds:
            oof[te] = HistGradientBoostingRegressor(max_iter=300, random_state=0).fit(X[tr], y[tr]).predict(X[te])
            ref = [fp[i] for i in tr]
            near[te] = nearest_to([fp[i] for i in te], ref)
        r = np.abs(oof - y)
        print(f"{label[:12]} {split_name}: OOF rmse {np.sqrt(np.mean(r**2)):.3f} median near {np.median(near):.2f} ({time.time()-t0:.0f}s)", flush=True)
        for feat in ("plain", "near"):
            cols = [X, oof] + ([near] if feat == "near" else [])
            g = HistGradientBoostingRegressor(max_iter=200, learning_rate=0.05, min_samples_leaf=40, random_state=0)
            g.fit(np.column_stack(cols), r)
            hv = g.predict(np.column_stack([F["val"][label], V["trees"]] + ([V["nearest"]] if feat == "near" else [])))
            ht = g.predict(np.column_stack([F["test"][label], T["trees"]] + ([T["nearest"]] if feat == "near" else [])))
            a, b, c = fit_uncertainty_terms(V["y"], V["p"], V["spread"], V["nearest"], hv)
            sv = np.array([combine(x, n, 1.0, b) for x, n in zip(with_error(V["spread"] * a, hv, c), V["nearest"])])
            st = np.array([combine(x, n, 1.0, b) for x, n in zip(with_error(T["spread"] * a, ht, c), T["nearest"])])
            print(f"   {feat}: ê rho val {spearmanr(ev, hv).statistic:.3f} test {spearmanr(et, ht).statistic:.3f} | σ rho val {spearmanr(ev, sv).statistic:.3f} test {spearmanr(et, st).statistic:.3f} cov test {np.mean(et <= 1.6449*st):.3f} (a,b,c {a:.2f},{b:.2f},{c:.2f})", flush=True)
            out[(split_name, feat)] = (hv, ht)
    res[label] = out
pickle.dump(res, open(f"var/study/em2_{'_'.join(map(str, tasks))}.pkl", "wb"))
