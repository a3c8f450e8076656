"""Error model on the mixed descriptor value's out-of-fold errors (rule:
var/notes/decision-oof-error.md). `oof`: 5-fold out-of-fold trees, descriptor network (1 net)
and graph network (1 net, GRAPH_OOF_EPOCHS) over the fitting rows; `judge`: error models and σ
by 2-fold CV on validation against the shipped one."""
import os, pickle, sys, time
from pathlib import Path
import numpy as np

CK = Path("checkpoints/default")
OOF = Path("var/study/oof_parts.pkl")
EPOCHS = int(os.environ.get("GRAPH_OOF_EPOCHS", "20"))


def oof():
    import training.evaluate as E
    from chemcore import descriptor_model as DM
    from sklearn.model_selection import KFold
    from training import data as D
    from training.data import full_descriptors
    t0 = time.time()
    splits = D.make_splits(seed=0)
    names = DM.read(CK / "descriptor_model.json").descriptors
    X = full_descriptors(splits.train_smiles, names)
    y = splits.train_y
    smi = np.array(splits.train_smiles, dtype=object)
    print("rows", round(time.time() - t0), flush=True)
    trees, mlp, graph = (np.full(y.shape, np.nan) for _ in range(3))
    E.MLP_NETS, E.GRAPH_NETS = 1, 1
    for f, (fit, held) in enumerate(KFold(5, shuffle=True, random_state=0).split(X)):
        for t in range(y.shape[1]):
            m = np.isfinite(y[fit, t])
            bag = E.fit_trees(X[fit][m], y[fit][m, t], 0)
            trees[held, t] = np.mean([b.predict(X[held]) for b in bag], 0)
        print("fold", f, "trees", round(time.time() - t0), flush=True)
        net = E.fit_descriptor_mlp(list(smi[fit]), y[fit], names, seed=f, X=X[fit])
        mlp[held] = net.predict(X[held])
        print("fold", f, "mlp", round(time.time() - t0), flush=True)
        gn = E.fit_graph_network(list(smi[fit]), y[fit], seed=f, epochs=EPOCHS)
        graph[held] = gn.predict(list(smi[held]))
        print("fold", f, "graph", round(time.time() - t0), flush=True)
        pickle.dump(dict(y=y, trees=trees, mlp=mlp, graph=graph, folds_done=f + 1), OOF.open("wb"))


def judge():
    from scipy.stats import spearmanr
    from sklearn.ensemble import HistGradientBoostingRegressor
    from chemcore import checkpoint as C, descriptor_model as DM
    from chemcore.uncertainty import combine, with_error
    from training import data as D
    from training.data import full_descriptors
    from training.evaluate import fit_uncertainty_terms
    from training.pipeline import _at
    keep = C.read_manifest(CK)
    o = pickle.load(OOF.open("rb"))
    parts = pickle.load(open("var/study/sigma_parts.pkl", "rb"))
    splits = D.make_splits(seed=0)
    names = DM.read(CK / "descriptor_model.json").descriptors
    X = full_descriptors(splits.train_smiles, names)
    V = full_descriptors(splits.val_smiles, names)
    rng = np.random.default_rng(20261207)
    for t, d in enumerate(parts):
        g, gg = _at(keep.mlp_weight, t, 0), _at(keep.graph_weight, t, 0)
        mix = lambda a, b, c: (1 - gg) * ((1 - g) * a + g * b) + gg * c
        m = np.isfinite(o["y"][:, t])
        yt, oo = o["y"][m, t], mix(o["trees"][m, t], o["mlp"][m, t], o["graph"][m, t])
        cols = np.zeros((m.sum(), D.N_TASKS)); cols[:, t] = oo
        em = HistGradientBoostingRegressor(random_state=0, max_iter=200, learning_rate=0.05, min_samples_leaf=40)
        em.fit(np.column_stack([X[m], cols]), np.abs(oo - yt))
        vm = np.isfinite(splits.val_y[:, t])
        vcols = np.zeros((vm.sum(), D.N_TASKS)); vcols[:, t] = mix(d["trees"], d["mlp"], d["graph"])
        h_new = em.predict(np.column_stack([V[vm], vcols]))
        y, p, s, near = d["y"], d["p"], d["s"], d["nearest"]
        n = len(y); halves = [rng.permutation(n) for _ in range(50)]
        out = {}
        for name, h in (("A", d["h"]), ("D", h_new)):
            rhos, covs = [], []
            for perm in halves:
                a_, b_ = perm[: n // 2], perm[n // 2:]
                for fit, held in ((a_, b_), (b_, a_)):
                    a, b, c = fit_uncertainty_terms(y[fit], p[fit], s[fit], near[fit], h[fit])
                    sig = np.array([combine(x, nn, 1.0, b) for x, nn in zip(with_error(s[held] * a, h[held], c), near[held])])
                    e = np.abs(p[held] - y[held])
                    rhos.append(spearmanr(e, sig).correlation); covs.append(np.mean(e <= 1.645 * sig))
            out[name] = (np.mean(rhos), np.mean(covs), spearmanr(np.abs(p - y), h).correlation)
        print(d["task"][:28].ljust(28), n, " | ".join(f"{k}: {r:.3f} cov {c:.3f} raw {w:.3f}" for k, (r, c, w) in out.items()),
              f"| OOF mix RMSE {np.sqrt(np.mean((oo - yt) ** 2)):.3f} trees {np.sqrt(np.mean((o['trees'][m, t] - yt) ** 2)):.3f}", flush=True)


if __name__ == "__main__":
    if "oof" in sys.argv:
        oof()
    if "judge" in sys.argv:
        judge()
