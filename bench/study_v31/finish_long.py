"""Finish var/cpu-v31b after its members were saved (the run died importing the card, which
had changed under it): the same finish_checkpoint, histories read back from the log."""
import re, sys, time
from training import data as D
from training.pipeline import finish_checkpoint
from training.train import TrainConfig
out, log = sys.argv[1], open(sys.argv[2]).read().splitlines()
cfg = TrainConfig(seed=0, epochs=16, time_budget_s=600, task_weighting="label")
hists, cur, pre = [], None, 0.0
secs = []
for line in log:
    if line.startswith("pretrain epoch"):
        pre = float(re.search(r"\((\d+)s\)", line).group(1))
    if line.startswith("member "):
        cur = []; hists.append(cur)
    m = re.match(r"epoch (\d+)/\d+ loss=([\d.]+) val_rmse (.*) score=([\d.]+) \((\d+)s\)", line)
    if m and cur is not None:
        rm = [float(x.split("=")[1]) for x in m.group(3).split()]
        cur.append({"epoch": int(m.group(1)), "train_loss": float(m.group(2)), "val_rmse": rm, "val_score": float(m.group(4))})
        last = float(m.group(5))
    if line.startswith("member ") and len(hists) > 1:
        secs.append(last)
secs.append(last)
train_seconds = pre + sum(secs)
print("members", len(hists), [len(h) for h in hists], "pretrain", pre, "train", train_seconds)
splits = D.make_splits(seed=0, version="3.1")
corpus, corpus_info = D.pretrain_corpus(splits, cfg.n_moses, seed=0)
splits.info.update(corpus_info)
info = {"members": [f"member-{k}" for k in range(5)], "histories": hists, "pretrain_seconds": pre, "train_seconds": train_seconds}
finish_checkpoint(out, cfg, splits, info, time.time() - train_seconds - 60, seed=0)
