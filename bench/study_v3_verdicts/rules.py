import pickle, collections, json
import numpy as np
labels, out = pickle.load(open("var/study/verdicts.pkl", "rb"))
m = json.load(open("checkpoints/default/metrics.json"))
def kind(r):
    if "similar" in r: return "sim"
    if "uncertainty" in r: return "sigma"
    return "other"
def table(rows, t, test=True):
    recs = []
    for s, y, outs, mol in rows:
        yy = y if test else y[t]
        if yy is None or not np.isfinite(yy): continue
        val, sig, verdict, reasons, near = outs[t]
        other = [r for r in reasons if kind(r) == "other"] + [x for x in mol if "ion" in x]
        recs.append((val - yy, sig, near, bool(other)))
    return recs
def drugs(t):
    recs = []
    for s, y, outs, mol in out["drugs"]:
        val, sig, verdict, reasons, near = outs[t]
        other = [r for r in reasons if kind(r) == "other"] + [x for x in mol if "ion" in x]
        recs.append((0.0, sig, near, bool(other)))
    return recs
def verdict(rec, unit, sim_care, k):
    e, sig, near, other = rec
    care = other or (near is not None and near < sim_care) or sig > k * unit
    return "care" if care else "in"
def rm(e): return np.sqrt(np.mean(np.square(e))) if len(e) else float("nan")
for t in (0, 1):
    lab = labels[t]
    unit = m["validation"][lab]["rmse"]
    V = table(out["val"], t, test=False); T = table(out["test:" + lab], t); D = drugs(t)
    print(lab, "val n", len(V), "test n", len(T), "val rmse", round(unit, 3))
    # bins
    for name, R in (("val", V), ("test", T)):
        e = np.array([r[0] for r in R]); s = np.array([r[2] for r in R]); q = np.array([r[1] for r in R]) / unit
        print(" ", name, "sim bins", [(lo, int(((s>=lo)&(s<hi)).sum()), round(rm(e[(s>=lo)&(s<hi)]),3)) for lo, hi in ((0,.2),(.2,.25),(.25,.3),(.3,.35),(.35,.4),(.4,.5),(.5,1.1))])
        print(" ", name, "σ/unit bins", [(lo, int(((q>=lo)&(q<hi)).sum()), round(rm(e[(q>=lo)&(q<hi)]),3)) for lo, hi in ((0,.8),(.8,1),(1,1.2),(1.2,1.5),(1.5,2),(2,9))])
    for sim_care in (0.30, 0.25, 0.20, 0.0):
        for k in (1.2, 1.3, 1.5, 1.75):
            res = []
            for name, R in (("val", V), ("test", T)):
                vs = [verdict(r, unit, sim_care, k) for r in R]
                ein = [r[0] for r, v in zip(R, vs) if v == "in"]; ec = [r[0] for r, v in zip(R, vs) if v != "in"]
                res.append(f"{name} in {100*len(ein)/len(R):.0f}% {rm(ein):.3f}/{rm(ec):.3f}")
            dv = [verdict(r, unit, sim_care, k) for r in D]
            print(f"  sim<{sim_care} σ>{k}: drugs in {100*dv.count('in')/len(dv):.1f}%  " + "  ".join(res))
