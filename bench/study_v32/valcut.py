"""Validation |error| / σ below and above the 0.30 similarity cut, per output, as calibrate sees
them (a copy of the checkpoint; its saved error model reused), with a bootstrap of the rule.

PYTHONPATH=. python bench/study_v32/valcut.py checkpoints/default
"""

import json
import shutil
import sys
from pathlib import Path

import numpy as np

import training.pipeline as P
from chemcore import checkpoint as C
from chemcore import descriptor_model as DM
from training import data as D
from training import evaluate as E

src, dst = Path(sys.argv[1]), Path("var/valcut-ckpt")
shutil.rmtree(dst, ignore_errors=True)
shutil.copytree(src, dst)
metrics = json.loads((src / "metrics.json").read_text())
splits = D.make_splits(seed=0, version=D.split_version_of(metrics))
saved = DM.read(src / "error_model.json")
E.fit_error_model = lambda *a, **k: saved
got = []
rule = E.fit_similarity_care


def spy(y, p, sigma, nearest, cut=E.SIMILARITY_CARE):
    got.append({"y": np.asarray(y), "p": np.asarray(p), "sigma": np.asarray(sigma),
                "nearest": np.asarray(nearest)})  # fmt: skip
    return rule(y, p, sigma, nearest, cut)


def rms(z):
    return float(np.sqrt(np.mean(z**2)))


E.fit_similarity_care = spy
keep = C.read_manifest(dst)
P.calibrate(str(dst), splits, keep.members, keep=keep)
rng = np.random.default_rng(0)
for label, d in zip(D.TASKS, got):
    z = (d["p"] - d["y"]) / d["sigma"]
    below = d["nearest"] < 0.3
    wins = []
    for _ in range(2000):
        i = rng.integers(0, len(z), len(z))
        b = below[i]
        if b.sum() and (~b).sum():
            wins.append(rms(z[i][b]) > rms(z[i][~b]))
    cut = rule(d["y"], d["p"], d["sigma"], d["nearest"])
    print(
        f"{label[:30]:30s} n {len(z)} below {below.sum()} rms z below {rms(z[below]):.3f} "
        f"above {rms(z[~below]):.3f} cut {cut} P(below > above) {np.mean(wins):.2f}"
    )
