# ruff: noqa  (study scratch, kept in history only)
"""Cache per-molecule pieces of the served value for val and test (study of σ)."""

import csv
import json
import pickle
import time

import numpy as np

from chemcore import descriptor_model as DM
from chemcore.descriptors import from_smiles
from chemcore.readacross import blend
from training import data as D
from training.evaluate import predict_members, read_across_neighbours

CK = "checkpoints/default"
t0 = time.time()
man = json.load(open(CK + "/ensemble.json"))
splits = D.make_splits(seed=0)
print("splits", time.time() - t0, flush=True)
dm = DM.read(CK + "/descriptor_model.json")
rows = list(csv.reader(open(CK + "/training_set.csv")))[1:]
beta = man["descriptor_blend"]["weight"]
w = man["read_across"]["weight"]
pw = man["read_across"]["power"]


def block(smiles, y, t, ref_smiles, ref_y):
    P = predict_members(CK, smiles)[:, :, t]
    tr = dm.predict(from_smiles(smiles, dm.descriptors))[:, t]
    near, nearest = read_across_neighbours(smiles, ref_smiles, ref_y)
    mean = P.mean(0)
    pb = (1 - beta[t]) * mean + beta[t] * tr
    p = blend(pb, near, nearest, w[t], pw[t])
    return dict(
        smiles=smiles,
        y=np.asarray(y, float),
        members=P,
        trees=tr,
        near=near,
        nearest=nearest,
        mean=mean,
        spread=P.std(0),
        p=p,
    )


out = {"tasks": D.TASKS, "val": {}, "test": {}}
for t, label in enumerate(D.TASKS):
    m = np.isfinite(splits.val_y[:, t])
    meas = sorted(
        (s, v) for s, v in zip(splits.train_smiles, splits.train_y[:, t]) if np.isfinite(v)
    )
    vs = [s for s, k in zip(splits.val_smiles, m) if k]
    out["val"][label] = block(vs, splits.val_y[m, t], t, [s for s, _ in meas], [v for _, v in meas])
    ref = [(r[0], float(r[1 + t])) for r in rows if r[1 + t] != ""]
    out["test"][label] = block(
        splits.test_smiles[label], splits.test_y[label], t, [s for s, _ in ref], [v for _, v in ref]
    )
    b = out["test"][label]
    print(
        label,
        "test rmse %.3f" % np.sqrt(np.nanmean((b["p"] - b["y"]) ** 2)),
        time.time() - t0,
        flush=True,
    )
out["train_smiles"] = splits.train_smiles
out["train_y"] = splits.train_y
pickle.dump(out, open("var/study/cache.pkl", "wb"))
