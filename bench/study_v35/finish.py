"""Finish the shipped members again with the current code into OUT (MODEL_VERSION VERSION)."""
import json, shutil, sys, time
from pathlib import Path
from training import data as D
import training.pipeline as P
from training.train import TrainConfig
src, out = Path("checkpoints/default"), Path(sys.argv[1])
P.MODEL_VERSION = sys.argv[2]
m = json.loads((src / "metrics.json").read_text())
shutil.rmtree(out, ignore_errors=True); out.mkdir(parents=True)
for d in src.glob("member-*"):
    shutil.copytree(d, out / d.name)
cfg = TrainConfig(**m["train_config"])
splits = D.make_splits(seed=0, version="3.1")
corpus, corpus_info = D.pretrain_corpus(splits, cfg.n_moses, seed=0)
splits.info.update(corpus_info)
assert splits.info.get("split_version") == "3.1"
info = {"members": [f"member-{k}" for k in range(5)], "histories": m["val_histories"],
        "pretrain_seconds": m["pretrain_seconds"], "train_seconds": m["train_seconds"]}
t0 = time.time()
P.finish_checkpoint(str(out), cfg, splits, info, t0 - m["pretrain_seconds"] - m["train_seconds"],
                    seed=0, baselines=m["baselines"])
print("finish seconds", round(time.time() - t0, 1))
