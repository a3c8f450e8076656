"""ΔG_hyd: move half of the test scaffolds to validation; cross-fit coverage estimate."""
import pickle, numpy as np
from training import data as D
from training.evaluate import fit_uncertainty_terms, read_across_neighbours
from chemcore import descriptor_model as DM
from chemcore.descriptors import from_smiles
from chemcore.uncertainty import combine, with_error
from scipy.stats import spearmanr
C = pickle.load(open("var/study/cache.pkl", "rb"))
lab = D.TASKS[D.DG]
CK = "checkpoints/default"
dm = DM.read(CK + "/descriptor_model.json"); em = DM.read(CK + "/error_model.json")
def block(b, nearest):
    rows = from_smiles(list(b["smiles"]), dm.descriptors)
    h = em.predict(DM.error_rows(rows, dm.predict(rows)))[:, D.DG]
    return dict(y=np.asarray(b["y"]), p=np.asarray(b["p"]), s=np.asarray(b["spread"]), n=np.asarray(nearest), h=h, smiles=list(b["smiles"]))
val = C["val"][lab]; te = C["test"][lab]
# nearest for test vs fit-only molecules measured for dG
tr_s = [s for s, v in zip(C["train_smiles"], C["train_y"][:, D.DG]) if np.isfinite(v)]
tr_y = [v for v in C["train_y"][:, D.DG] if np.isfinite(v)]
_, n_te = read_across_neighbours(list(te["smiles"]), tr_s, tr_y)
V = block(val, val["nearest"]); T = block(te, n_te)
print("val", len(V["y"]), "test", len(T["y"]))
def sub(B, idx): return {k: (np.asarray(v)[idx] if k != "smiles" else [v[i] for i in idx]) for k, v in B.items()}
def cat(A, B): return {k: (np.concatenate([A[k], B[k]]) if k != "smiles" else A[k] + B[k]) for k in A}
for seed in (2, 3, 4, 5, 6):
    a_idx, b_idx = D.scaffold_split(T["smiles"], 0.5, seed=seed)
    covs = []
    for cal, ev in ((a_idx, b_idx), (b_idx, a_idx)):
        NV = cat(V, sub(T, cal)); E = sub(T, ev)
        a, b, c = fit_uncertainty_terms(NV["y"], NV["p"], NV["s"], NV["n"], NV["h"])
        sig = np.array([combine(x, n, 1.0, b) for x, n in zip(with_error(E["s"] * a, E["h"], c), E["n"])])
        err = np.abs(E["p"] - E["y"])
        covs.append((len(cal), len(ev), round(float(np.mean(err <= 1.6449 * sig)), 3), round(spearmanr(err, sig).statistic, 3)))
    print(seed, covs)
