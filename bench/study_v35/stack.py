import pickle, numpy as np
from scipy.optimize import nnls
data = pickle.load(open("var/study/sigma_parts.pkl", "rb"))
rng = np.random.default_rng(7)
for d in data:
    y, p = d["y"], d["p"]
    X = np.column_stack([d["members"], d["trees"], d["mlp"], d["graph"]])
    n = len(y); base = []; st = []; st_ra = []
    for _ in range(50):
        perm = rng.permutation(n); a, b = perm[: n // 2], perm[n // 2:]
        for f, h in ((a, b), (b, a)):
            w, _ = nnls(X[f], y[f]); w = w / w.sum()   # convex combination
            st.append(np.mean((X[h] @ w - y[h]) ** 2)); base.append(np.mean((p[h] - y[h]) ** 2))
            # add the served final (with read-across) as a fifth column
            X2 = np.column_stack([X, p])
            w2, _ = nnls(X2[f], y[f]); w2 = w2 / w2.sum()
            st_ra.append(np.mean((X2[h] @ w2 - y[h]) ** 2))
    rm = lambda v: np.sqrt(np.mean(v))
    print(d["task"][:22].ljust(22), n, f"served {rm(base):.4f} stack {rm(st):.4f} ({rm(st)/rm(base):.3f}) stack+served {rm(st_ra)/rm(base):.3f}",
          "parts alone", " ".join(f"{np.sqrt(np.mean((X[:, k]-y)**2)):.3f}" for k in range(4)))
