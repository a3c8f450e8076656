"""σ candidates on split 3.1 validation (var/notes/decision-sigma.md): A scaffold-fold error
model, B local OOF error of the 5 nearest fitting molecules."""
import json, pickle, sys, time
from pathlib import Path
import numpy as np
from scipy.optimize import minimize
from scipy.stats import spearmanr
from rdkit import Chem
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.model_selection import KFold, GroupKFold
from training import data as D
from training.evaluate import read_across_neighbours, fit_trees
from chemcore import descriptor_model as DM
from chemcore.readacross import blend
from chemcore.similarity import fingerprint

t0 = time.time()
CK = Path("checkpoints/default")
S = D.make_splits(version="3.1")
man = json.load(open(CK / "ensemble.json"))
beta = man["descriptor_blend"]["weight"]; raw, rap = man["read_across"]["weight"], man["read_across"]["power"]
P = pickle.load(open("var/study/krr_pieces.pkl", "rb"))
mean, spread = P["members"].mean(0), P["members"].std(0)
X = pickle.load(open("var/study/tree_noise_X.pkl", "rb"))
dm = DM.read(CK / "descriptor_model.json"); em = DM.read(CK / "error_model.json")
need = [s for s in S.train_smiles + S.val_smiles if s not in X]
X.update(zip(need, D.full_descriptors(need, dm.descriptors)))
Xf = np.array([X[s] for s in S.train_smiles]); Xv = np.array([X[s] for s in S.val_smiles])
ehat_ship = em.predict(DM.error_rows(Xv, P["trees"]))
print("rows", time.time() - t0, flush=True)

def bits(smiles):
    A = np.zeros((len(smiles), 2048), np.float32)
    for i, s in enumerate(smiles):
        A[i, list(fingerprint(Chem.MolFromSmiles(s)).GetOnBits())] = 1
    return A
def tanimoto(A, B):
    c = A @ B.T; u = A.sum(1)[:, None] + B.sum(1)[None, :] - c
    return np.divide(c, u, out=np.zeros_like(c), where=u > 0)

def oof(Xt, yt, splitter, groups=None):
    o = np.zeros(len(yt))
    for fit, held in splitter.split(Xt, yt, groups):
        o[held] = np.mean([b.predict(Xt[held]) for b in fit_trees(Xt[fit], yt[fit], 0)], 0)
    return o

def errmodel(Xt, yt, o, t, Xval, trees_val):
    extra = np.zeros((len(yt), D.N_TASKS)); extra[:, t] = o
    m = HistGradientBoostingRegressor(random_state=0, max_iter=200, learning_rate=0.05, min_samples_leaf=40)
    m.fit(np.column_stack([Xt, extra]), np.abs(o - yt))
    ev = np.zeros((len(Xval), D.N_TASKS)); ev[:, t] = trees_val
    return m.predict(np.column_stack([Xval, ev]))

def fit_terms(y, p, terms):
    err2 = (p - y) ** 2
    def nll(th):
        var = sum(np.exp(2 * a) * x ** 2 for a, x in zip(th, terms)) + 1e-9
        return float(np.sum(0.5 * np.log(var) + 0.5 * err2 / var))
    rms = np.sqrt(err2.mean())
    start = [np.log(max(rms / max(np.mean(x), 1e-3), 1e-3)) for x in terms]
    r = minimize(nll, start, method="Nelder-Mead", options={"xatol": 1e-4, "fatol": 1e-6, "maxiter": 4000})
    return np.exp(r.x)
def sigma(c, terms):
    return np.sqrt(sum((a * x) ** 2 for a, x in zip(c, terms)) + 1e-12)

def cv_spearman(y, p, terms, reps=20):
    rng = np.random.default_rng(0); rs = []
    for _ in range(reps):
        half = rng.permutation(len(y)) < len(y) // 2
        for a, b in ((half, ~half), (~half, half)):
            c = fit_terms(y[a], p[a], [x[a] for x in terms])
            rs.append(spearmanr(np.abs(p[b] - y[b]), sigma(c, [x[b] for x in terms]))[0])
    return float(np.mean(rs))

tasks = [int(a) for a in sys.argv[1:]] or list(range(D.N_TASKS))
res = {}
for t in tasks:
    lab = D.TASKS[t]
    mf, mv = np.isfinite(S.train_y[:, t]), np.isfinite(S.val_y[:, t])
    if mv.sum() < 20: continue
    fs = [s for s, k in zip(S.train_smiles, mf) if k]; Xt, yt = Xf[mf], S.train_y[mf, t]
    vs, vy = [s for s, k in zip(S.val_smiles, mv) if k], S.val_y[mv, t]
    cpath = Path(f"var/study/localerr_oof_t{t}.pkl")
    if cpath.exists():
        O = pickle.load(open(cpath, "rb"))
    else:
        groups = [D.scaffold(s) for s in fs]
        O = {"rand": oof(Xt, yt, KFold(5, shuffle=True, random_state=0)),
             "scaf": oof(Xt, yt, GroupKFold(5), np.array(groups))}
        pickle.dump(O, open(cpath, "wb"))
    print(lab, "oof", {k: round(float(np.sqrt(np.mean((v - yt) ** 2))), 3) for k, v in O.items()}, f"{time.time()-t0:.0f}s", flush=True)
    trees_v = P["trees"][mv, t]
    p = (1 - beta[t]) * mean[mv, t] + beta[t] * trees_v
    measured = sorted((s, v) for s, v in zip(S.train_smiles, S.train_y[:, t]) if np.isfinite(v))
    near, nearest = read_across_neighbours(vs, [s for s, _ in measured], [v for _, v in measured])
    p = blend(p, near, nearest, raw[t], rap[t])
    e_ship = np.maximum(ehat_ship[mv, t], 0)
    e_scaf = np.maximum(errmodel(Xt, yt, O["scaf"], t, Xv[mv], trees_v), 0)
    K = tanimoto(bits(vs), bits(fs))
    top = np.argsort(-K, axis=1)[:, :5]
    loc_r = np.abs(O["rand"] - yt)[top].mean(1); loc_s = np.abs(O["scaf"] - yt)[top].mean(1)
    s, d = np.maximum(spread[mv, t], 1e-6), 1 - nearest
    variants = {"shipped s,d,e": [s, d, e_ship], "A s,d,e_scaf": [s, d, e_scaf],
                "B s,d,e,loc_rand": [s, d, e_ship, loc_r], "B' s,d,e,loc_scaf": [s, d, e_ship, loc_s],
                "A+B s,d,e_scaf,loc_scaf": [s, d, e_scaf, loc_s]}
    row = {k: cv_spearman(vy, p, v) for k, v in variants.items()}
    row.update({"raw_" + k: float(spearmanr(np.abs(p - vy), x)[0]) for k, x in
                (("e_ship", e_ship), ("e_scaf", e_scaf), ("loc_rand", loc_r), ("loc_scaf", loc_s), ("d", d), ("s", s))})
    res[lab] = row
    print(lab, len(vy), {k: round(v, 3) for k, v in row.items()}, f"{time.time()-t0:.0f}s", flush=True)
pickle.dump(res, open("var/study/localerr_" + "_".join(map(str, tasks)) + ".pkl", "wb"))
