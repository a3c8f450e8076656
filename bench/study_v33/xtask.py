"""Cross-task features (var/notes/decision-xtask.md): logS and logD tree values as columns."""
import pickle, time
import numpy as np
from training import data as D
from training.evaluate import fit_trees
t0 = time.time()
S = D.make_splits(version="3.1")
X = pickle.load(open("var/study/tree_noise_X.pkl", "rb"))
from training.evaluate import descriptor_model_names
need = [s for s in S.train_smiles + S.val_smiles if s not in X]
if need:
    X.update(zip(need, D.full_descriptors(need, descriptor_model_names()))); pickle.dump(X, open("var/study/tree_noise_X.pkl", "wb"))
print("rows", len(need), time.time() - t0, flush=True)
Xf = np.array([X[s] for s in S.train_smiles]); Xv = np.array([X[s] for s in S.val_smiles])
rmse = lambda p, y: float(np.sqrt(np.mean((p - y) ** 2)))
bag = lambda A, y: fit_trees(A, y, 0)
pred = lambda ms, A: np.mean([m.predict(A) for m in ms], 0)
extra_f = np.zeros((len(Xf), 2)); extra_v = np.zeros((len(Xv), 2))
for j, u in enumerate((D.LOGS, D.LOGD)):
    mf = np.isfinite(S.train_y[:, u])
    ms = bag(Xf[mf], S.train_y[mf, u])
    extra_f[:, j] = pred(ms, Xf); extra_v[:, j] = pred(ms, Xv)
    oof = pickle.load(open(f"var/study/localerr_oof_t{u}.pkl", "rb"))["rand"]
    extra_f[mf, j] = oof
    print("feature", u, time.time() - t0, flush=True)
res = {}
for t in range(D.N_TASKS):
    mf, mv = np.isfinite(S.train_y[:, t]), np.isfinite(S.val_y[:, t])
    yf, yv = S.train_y[mf, t], S.val_y[mv, t]
    base = rmse(pred(bag(Xf[mf], yf), Xv[mv]), yv)
    new = rmse(pred(bag(np.column_stack([Xf[mf], extra_f[mf]]), yf), np.column_stack([Xv[mv], extra_v[mv]])), yv)
    res[D.TASKS[t]] = (base, new, new / base)
    print(D.TASKS[t], len(yv), f"base {base:.4f} new {new:.4f} ratio {new/base:.4f}", f"{time.time()-t0:.0f}s", flush=True)
pickle.dump(res, open("var/study/xtask.pkl", "wb"))
