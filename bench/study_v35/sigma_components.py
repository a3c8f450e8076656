"""Validation parts of the shipped value, then σ candidates judged by 2-fold CV
(var/notes/decision-sigma-components.md)."""
import pickle, sys, time
from pathlib import Path
import numpy as np
from scipy.stats import spearmanr

OUT = Path("var/study/sigma_parts.pkl")
CK = "checkpoints/default"


def parts():
    from chemcore import checkpoint as C, descriptor_mlp as DMLP, descriptor_model as DM, graph_network as GN
    from chemcore.readacross import blend
    from training import data as D
    from training.data import full_descriptors
    from training.evaluate import predict_members, read_across_neighbours
    from training.pipeline import _at
    t = time.time()
    keep = C.read_manifest(CK)
    splits = D.make_splits(seed=0)
    preds = predict_members(CK, splits.val_smiles)
    mean, spread = preds.mean(axis=0), preds.std(axis=0, ddof=0)
    model = DM.read(Path(CK) / keep.descriptor_model)
    rows = full_descriptors(splits.val_smiles, model.descriptors)
    trees = model.predict(rows)
    mlp = DMLP.read(Path(CK) / keep.descriptor_mlp).predict(rows)
    graph = GN.read(Path(CK) / keep.graph_network).predict(splits.val_smiles)
    errors = DM.read(Path(CK) / C.ERROR_MODEL).predict(DM.error_rows(rows, trees))
    out = []
    for t_ in range(D.N_TASKS):
        m = np.isfinite(splits.val_y[:, t_])
        y, p = splits.val_y[m, t_], mean[m, t_]
        g, gg, beta = _at(keep.mlp_weight, t_, 0), _at(keep.graph_weight, t_, 0), _at(keep.descriptor_weight, t_, 0)
        desc = (1 - gg) * ((1 - g) * trees[m, t_] + g * mlp[m, t_]) + gg * graph[m, t_]
        value = (1 - beta) * p + beta * desc
        measured = sorted((s, v) for s, v in zip(splits.train_smiles, splits.train_y[:, t_]) if np.isfinite(v))
        near, nearest = read_across_neighbours([s for s, k in zip(splits.val_smiles, m) if k], [s for s, _ in measured], [v for _, v in measured])
        final = blend(value, near, nearest, _at(keep.read_across_weight, t_, 0), _at(keep.read_across_power, t_, 1))
        out.append(dict(task=D.TASKS[t_], y=y, p=np.asarray(final), s=spread[m, t_], nearest=np.asarray(nearest),
                        h=errors[m, t_], members=p, trees=trees[m, t_], mlp=mlp[m, t_], graph=graph[m, t_]))
    pickle.dump(out, OUT.open("wb"))
    print("parts", round(time.time() - t), "s")


def judge():
    from chemcore.uncertainty import combine, with_error
    from training.evaluate import MIN_FIT, fit_uncertainty_terms
    data = pickle.load(OUT.open("rb"))
    rng = np.random.default_rng(20261207)
    print("task n | candidate: spearman coverage | full-validation spearman of the raw input")
    for d in data:
        y, p, s, near, h = d["y"], d["p"], d["s"], d["nearest"], d["h"]
        comp = np.column_stack([d["members"], d["trees"], d["mlp"], d["graph"]])
        dis = comp.std(axis=1)
        cands = {"A": s, "B": dis, "C": np.sqrt(s**2 + dis**2)}
        n = len(y)
        halves = [rng.permutation(n) for _ in range(50)]
        res = {}
        for name, sp in cands.items():
            rhos, covs = [], []
            for perm in halves:
                a_, b_ = perm[: n // 2], perm[n // 2 :]
                for fit, held in ((a_, b_), (b_, a_)):
                    if len(fit) < MIN_FIT:
                        continue
                    a, b, c = fit_uncertainty_terms(y[fit], p[fit], sp[fit], near[fit], h[fit])
                    inner = with_error(sp[held] * a, h[held], c)
                    sig = np.array([combine(x, nn, 1.0, b) for x, nn in zip(inner, near[held])])
                    e = np.abs(p[held] - y[held])
                    rhos.append(spearmanr(e, sig).correlation)
                    covs.append(np.mean(e <= 1.645 * sig))
            res[name] = (np.mean(rhos) if rhos else np.nan, np.mean(covs) if covs else np.nan)
        raw = {k: spearmanr(np.abs(p - y), v).correlation for k, v in cands.items()}
        print(d["task"][:28].ljust(28), n, " | ".join(f"{k}: {r:.3f} {c:.3f}" for k, (r, c) in res.items()),
              "| raw", " ".join(f"{k} {v:.3f}" for k, v in raw.items()),
              f"| h {spearmanr(np.abs(p - y), h).correlation:.3f} dist {spearmanr(np.abs(p - y), 1 - near).correlation:.3f}", flush=True)


if __name__ == "__main__":
    if "parts" in sys.argv:
        parts()
    if "judge" in sys.argv:
        judge()
