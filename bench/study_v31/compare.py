"""Shipped vs a candidate checkpoint: test and validation figures per output."""
import json, sys
a = json.load(open("checkpoints/default/metrics.json")); b = json.load(open(sys.argv[1] + "/metrics.json"))
print(f"{'output':38s} {'test RMSE a':>11s} {'b':>7s} {'b/a':>6s} | {'xbest a':>7s} {'b':>6s} | {'cov a':>6s} {'b':>6s} | {'sp a':>6s} {'b':>6s} | {'val RMSE a':>10s} {'b':>6s} {'val cov b':>9s} n")
for lab in a["tasks"]:
    ta, tb = a["test"][lab], b["test"][lab]
    best = lambda m: min(m["baselines"][lab]["rf"]["rmse"], m["baselines"][lab]["gbm"]["rmse"])
    va, vb = a["validation"][lab], b["validation"][lab]
    print(f"{lab[:38]:38s} {ta['rmse']:11.3f} {tb['rmse']:7.3f} {tb['rmse']/ta['rmse']:6.3f} | {ta['rmse']/best(a):7.2f} {tb['rmse']/best(b):6.2f} | {ta['coverage90']:6.3f} {tb['coverage90']:6.3f} | {ta['unc_spearman']:6.3f} {tb['unc_spearman']:6.3f} | {va['rmse']:10.3f} {vb['rmse']:6.3f} {vb['coverage90']:9.3f} {ta['n']}/{tb['n']} val {va['n']}/{vb['n']}")
ea, eb = a["test"].get("external") or a.get("external"), b.get("external")
print("external", ea and ea.get("rmse"), eb and eb.get("rmse"))
print("verdict rules b", b.get("verdict_rules"))
print("pipeline_seconds", b.get("pipeline_seconds"), "checkpoint_bytes", b.get("checkpoint_bytes"))
