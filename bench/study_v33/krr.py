"""Kernel ridge regression on the site's Tanimoto similarity, blended with the served value.
Split 3.1 validation decides (var/notes/decision-krr.md). Caches pieces in var/study/krr_*.pkl."""
import json, pickle, sys, time
from pathlib import Path
import numpy as np
from rdkit import Chem
from training import data as D
from training.evaluate import read_across_neighbours
from chemcore import descriptor_model as DM
from chemcore.readacross import blend
from chemcore.similarity import fingerprint

t0 = time.time()
CK = Path("checkpoints/default")
S = D.make_splits(version="3.1")
man = json.load(open(CK / "ensemble.json"))
beta = man["descriptor_blend"]["weight"]; raw, rap = man["read_across"]["weight"], man["read_across"]["power"]
cache = Path("var/study/krr_pieces.pkl")
if cache.exists():
    P = pickle.load(open(cache, "rb"))
else:
    from chemcore.network import Network
    members = Network(str(CK)).member_values(S.val_smiles)
    print("members", time.time() - t0, flush=True)
    model = DM.read(CK / "descriptor_model.json")
    X = pickle.load(open("var/study/tree_noise_X.pkl", "rb"))
    need = [s for s in S.val_smiles if s not in X]
    X.update(zip(need, D.full_descriptors(need, model.descriptors)))
    trees = model.predict(np.array([X[s] for s in S.val_smiles]))
    P = {"members": members, "trees": trees}
    pickle.dump(P, open(cache, "wb"))
print("pieces", time.time() - t0, flush=True)
mean = P["members"].mean(0)

def bits(smiles):
    A = np.zeros((len(smiles), 2048), np.float32)
    for i, s in enumerate(smiles):
        A[i, list(fingerprint(Chem.MolFromSmiles(s)).GetOnBits())] = 1
    return A

def tanimoto(A, B):
    c = A @ B.T; u = A.sum(1)[:, None] + B.sum(1)[None, :] - c
    return np.divide(c, u, out=np.zeros_like(c), where=u > 0).astype(np.float64)

rmse = lambda p, y: float(np.sqrt(np.mean((p - y) ** 2)))
LAMS = [0.03, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0]
out = {}
tasks = [int(a) for a in sys.argv[1:]] or list(range(D.N_TASKS))
for t in tasks:
    lab = D.TASKS[t]
    mf, mv = np.isfinite(S.train_y[:, t]), np.isfinite(S.val_y[:, t])
    measured = sorted((s, v) for s, v in zip(S.train_smiles, S.train_y[:, t]) if np.isfinite(v))
    fs, fy = [s for s, _ in measured], np.array([v for _, v in measured])
    vs, vy = [s for s, k in zip(S.val_smiles, mv) if k], S.val_y[mv, t]
    p = (1 - beta[t]) * mean[mv, t] + beta[t] * P["trees"][mv, t]
    near, nearest = read_across_neighbours(vs, fs, fy)
    pcur = blend(p, near, nearest, raw[t], rap[t])
    Af, Av = bits(fs), bits(vs)
    K = tanimoto(Af, Af); Kv = tanimoto(Av, Af)
    mu = fy.mean(); yc = fy - mu
    e, Q = np.linalg.eigh(K)
    Qy = Q.T @ yc
    best = None
    for lam in LAMS:
        f = e / (e + lam)
        yhat = Q @ (f * Qy); h = (Q ** 2) @ f
        loo = rmse((yc - yhat) / (1 - h), 0)
        if best is None or loo < best[0]: best = (loo, lam)
        print(f"  {lab[:28]:28s} lam {lam}: LOO {loo:.3f}", flush=True)
    lam = best[1]
    alpha = Q @ (Qy / (e + lam))
    krr = mu + Kv @ alpha
    # 2-fold CV of g on validation
    G = np.round(np.linspace(0, 1, 21), 2)
    rng = np.random.default_rng(0); sq_new = sq_cur = 0.0; gs = []
    for r in range(50):
        half = rng.permutation(len(vy)) < len(vy) // 2
        for a, b in ((half, ~half), (~half, half)):
            g = min(G, key=lambda g: (np.mean(((1 - g) * pcur[a] + g * krr[a] - vy[a]) ** 2), g))
            gs.append(g)
            sq_new += np.sum(((1 - g) * pcur[b] + g * krr[b] - vy[b]) ** 2); sq_cur += np.sum((pcur[b] - vy[b]) ** 2)
    n_tot = 50 * len(vy)
    gfull = min(G, key=lambda g: (np.mean(((1 - g) * pcur + g * krr - vy) ** 2), g))
    row = {"n_fit": len(fy), "n_val": len(vy), "lam": lam, "loo": best[0], "cur": rmse(pcur, vy),
           "krr": rmse(krr, vy), "trees": rmse(P["trees"][mv, t], vy), "cv_cur": float(np.sqrt(sq_cur / n_tot)),
           "cv_new": float(np.sqrt(sq_new / n_tot)), "g_full": float(gfull), "g_median": float(np.median(gs))}
    row["ratio"] = row["cv_new"] / row["cv_cur"]
    out[lab] = row
    print(lab, {k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}, f"{time.time()-t0:.0f}s", flush=True)
    pickle.dump({"krr": krr, "alpha": alpha, "mu": mu, "lam": lam, "pcur": pcur, "vy": vy, "nearest": nearest},
                open(f"var/study/krr_t{t}.pkl", "wb"))
pickle.dump(out, open("var/study/krr_out_" + "_".join(map(str, tasks)) + ".pkl", "wb"))
