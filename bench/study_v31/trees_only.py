"""logS test RMSE of each checkpoint's descriptor trees alone, its members alone, and β."""
import json, sys, numpy as np
from chemcore import descriptor_model as DM
from chemcore.descriptors import from_smiles
from training import data as D
S = D.make_splits(version="3.0"); lab = D.TASKS[D.LOGS]
xs, ys = S.test_smiles[lab], S.test_y[lab]
for d in sys.argv[1:]:
    dm = DM.read(d + "/descriptor_model.json")
    t = dm.predict(from_smiles(xs, dm.descriptors))[:, D.LOGS]
    man = json.load(open(d + "/ensemble.json"))
    print(d, "trees-only logS test RMSE %.3f" % np.sqrt(np.nanmean((t - ys) ** 2)), "beta", man.get("descriptor_weight"))
