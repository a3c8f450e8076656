import pickle, numpy as np
V = pickle.load(open("var/study/valsig.pkl", "rb"))
def rm(e): return np.sqrt(np.mean(np.square(e))) if len(e) else float("nan")
for lab in list(V)[:2] + list(V)[3:]:
    d = V[lab]; e = d["p"] - d["y"]; s = d["nearest"]; unit = rm(e); q = d["sigma"] / unit
    print(lab, len(e))
    print("  sim bins", [(lo, int(((s>=lo)&(s<hi)).sum()), round(rm(e[(s>=lo)&(s<hi)]),2)) for lo, hi in ((0,.2),(.2,.25),(.25,.3),(.3,.35),(.35,.4),(.4,.5),(.5,.7),(.7,1.1))])
    print("  σ/unit bins", [(lo, int(((q>=lo)&(q<hi)).sum()), round(rm(e[(q>=lo)&(q<hi)]),2)) for lo, hi in ((0,.8),(.8,1),(1,1.2),(1.2,1.5),(1.5,2),(2,9))])
    # residual effect of sim given sigma: standardised errors z = e/σ by sim bin
    z = e / d["sigma"]
    print("  rms(e/σ) by sim", [(lo, int(((s>=lo)&(s<hi)).sum()), round(rm(z[(s>=lo)&(s<hi)]),2)) for lo, hi in ((0,.3),(.3,.4),(.4,.5),(.5,1.1))])
    for sc in (0.3, 0.25, 0.0):
        for k in (1.25, 1.5):
            care = (s < sc) | (q > k)
            print(f"   sim<{sc} σ>{k}: in {100*np.mean(~care):.0f}%  in {rm(e[~care]):.3f} care {rm(e[care]):.3f}")
