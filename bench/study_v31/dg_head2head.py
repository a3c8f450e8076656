"""Both checkpoints on split 3.1's ΔG_hyd test (no molecule of it in either's training)."""
import sys, numpy as np
from chemcore.model import Model, Refused
from training import data as D
S = D.make_splits(version="3.1")
lab = D.TASKS[D.DG]
xs, ys = S.test_smiles[lab], S.test_y[lab]
kind = np.array([("ring" if D.scaffold(s) not in ("", "c1ccccc1") else "plain") for s in xs])
old = D.make_splits(version="3.0")
assert not {D.inchikey(s) for s in xs} & {D.inchikey(s) for s in old.train_smiles + old.val_smiles}
for d in sys.argv[1:]:
    m = Model.load(d, threads=1)
    preds = m.predict(list(xs))
    ok = np.array([not isinstance(p, Refused) for p in preds]); print(d, "refused", (~ok).sum())
    preds = [p for p in preds if not isinstance(p, Refused)]
    v = np.array([p.outputs[D.DG].value for p in preds]); sg = np.array([p.outputs[D.DG].uncertainty for p in preds])
    ver = np.array([p.outputs[D.DG].verdict for p in preds])
    e = np.abs(v - ys[ok]); kk = kind[ok]
    for name, k in (("all", np.ones(len(kk), bool)), ("ring", kk == "ring"), ("acyclic/benzene", kk == "plain")):
        print(f"{d:22s} {name:16s} n={k.sum():3d} RMSE {np.sqrt(np.mean(e[k]**2)):.3f} MAE {e[k].mean():.3f} cov90 {np.mean(e[k] <= 1.6449*sg[k]):.3f} in/care/out {[(ver[k]==x).sum() for x in ('in','care','out')]}")
