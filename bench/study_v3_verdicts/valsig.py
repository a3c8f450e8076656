"""Validation σ as served (manifest terms + error model) with fit-only nearest, for verdict rules."""
import pickle, json
import numpy as np
from chemcore import descriptor_model as DM
from chemcore.descriptors import from_smiles
from chemcore.uncertainty import combine, with_error
CK = "checkpoints/default"
C = pickle.load(open("var/study/cache.pkl", "rb"))
man = json.load(open(CK + "/ensemble.json"))
a = man["uncertainty"]["scale"]; b = man["uncertainty"]["distance_scale"]; c = man["uncertainty"]["error_model"]["scale"]
dm = DM.read(CK + "/descriptor_model.json"); em = DM.read(CK + "/error_model.json")
res = {}
for t, lab in enumerate(C["tasks"]):
    blk = C["val"][lab]
    rows = from_smiles(blk["smiles"], dm.descriptors)
    trees = dm.predict(rows)
    h = em.predict(DM.error_rows(rows, trees))[:, t]
    inner = with_error(blk["spread"] * a[t], h, c[t])
    sig = np.array([combine(x, n, 1.0, b[t]) for x, n in zip(inner, blk["nearest"])])
    res[lab] = dict(y=blk["y"], p=blk["p"], sigma=sig, nearest=blk["nearest"], smiles=blk["smiles"])
    e = blk["p"] - blk["y"]
    print(lab, len(e), "rmse", np.sqrt(np.mean(e**2)).round(3), "cov", np.mean(np.abs(e) <= 1.6448536 * sig).round(3))
pickle.dump(res, open("var/study/valsig.pkl", "wb"))
