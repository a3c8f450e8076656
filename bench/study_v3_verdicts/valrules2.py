"""Validation: |error|/σ below/above the 0.3 similarity cut, and the verdict split with σ measured
in its own root mean square (the shipped rule)."""
import pickle, numpy as np
from training.evaluate import fit_similarity_care
V = pickle.load(open("var/study/valsig.pkl", "rb"))
def rm(e): return float(np.sqrt(np.mean(np.square(e)))) if len(e) else float("nan")
print("| output | n | below 0.3 | rms z below / above | cut | σ > 1.5 typical | RMSE in / care |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for lab, d in V.items():
    e = d["p"] - d["y"]; s = d["nearest"]; z = e / d["sigma"]; below = s < 0.3
    unit = rm(d["sigma"]); flag = d["sigma"] > 1.5 * unit
    cut = fit_similarity_care(d["y"], d["p"], d["sigma"], s)
    care = flag | (below if cut else np.zeros_like(flag))
    print(f"| {lab} | {len(e)} | {below.sum()} | {rm(z[below]):.2f} / {rm(z[~below]):.2f} | {cut or 'none'} | {100*flag.mean():.0f} % | {rm(e[~care]):.3f} / {rm(e[care]):.3f} |")
