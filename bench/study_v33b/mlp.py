"""Multi-task MLP on the descriptor row, blended with the served value (var/notes/decision-mlp.md)."""
import json, pickle, time
import numpy as np, torch
from training import data as D
from training.evaluate import read_across_neighbours
from chemcore.readacross import blend
torch.set_num_threads(2)
t0 = time.time()
S = D.make_splits(version="3.1")
X = pickle.load(open("var/study/tree_noise_X.pkl", "rb"))
Xf = np.array([X[s] for s in S.train_smiles]); Xv = np.array([X[s] for s in S.val_smiles])
nd = Xf.shape[1] - 1024  # RDKit descriptors first, then Morgan counts
def prep_fit(A):
    D_ = A[:, :nd].astype(np.float64)
    D_ = np.where(np.isfinite(D_), D_, np.nan)
    lo, hi = np.nanpercentile(D_, 1, 0), np.nanpercentile(D_, 99, 0)
    Dc = np.clip(D_, lo, hi); mu = np.nanmean(Dc, 0); sd = np.nanstd(Dc, 0) + 1e-6
    return lo, hi, mu, sd
def prep(A, st):
    lo, hi, mu, sd = st
    D_ = np.where(np.isfinite(A[:, :nd]), A[:, :nd], np.nan)
    Z = np.nan_to_num((np.clip(D_, lo, hi) - mu) / sd)
    return np.column_stack([Z, np.log1p(np.maximum(A[:, nd:], 0))]).astype(np.float32)
st = prep_fit(Xf); Zf, Zv = prep(Xf, st), prep(Xv, st)
Y = S.train_y; ym, ys = np.nanmean(Y, 0), np.nanstd(Y, 0)
Yz = ((Y - ym) / ys).astype(np.float32)
inner_fit, inner_hold = D.scaffold_split(S.train_smiles, 0.1, 0)
def train(seed, epochs=80):
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(Zf.shape[1], 512), torch.nn.ReLU(), torch.nn.Dropout(0.2),
                              torch.nn.Linear(512, 256), torch.nn.ReLU(), torch.nn.Dropout(0.2), torch.nn.Linear(256, D.N_TASKS))
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-4)
    xf, yf = torch.tensor(Zf[inner_fit]), torch.tensor(Yz[inner_fit])
    xh, yh = torch.tensor(Zf[inner_hold]), torch.tensor(Yz[inner_hold])
    g = torch.Generator().manual_seed(seed); best = (1e9, None, 0)
    for ep in range(epochs):
        net.train()
        for idx in torch.randperm(len(xf), generator=g).split(128):
            y = yf[idx]; m = torch.isfinite(y)
            loss = ((net(xf[idx]) - torch.nan_to_num(y)) ** 2)[m].mean()
            opt.zero_grad(); loss.backward(); opt.step()
        net.eval()
        with torch.no_grad():
            ph = net(xh); m = torch.isfinite(yh)
            # mean over tasks of per-task MSE (small tasks count as much as logS)
            l = np.mean([float(((ph[:, t] - yh[:, t])[m[:, t]] ** 2).mean()) for t in range(D.N_TASKS) if m[:, t].sum() > 5])
        if l < best[0]:
            best = (l, {k: v.clone() for k, v in net.state_dict().items()}, ep)
    net.load_state_dict(best[1]); net.eval()
    with torch.no_grad():
        pv = net(torch.tensor(Zv)).numpy() * ys + ym
    print("seed", seed, "best epoch", best[2], "hold", round(best[0], 3), f"{time.time()-t0:.0f}s", flush=True)
    return pv
preds = np.mean([train(s) for s in range(5)], 0)
pickle.dump(preds, open("var/study/mlp_val.pkl", "wb"))
man = json.load(open("checkpoints/default/ensemble.json"))
beta = man["descriptor_blend"]["weight"]; raw, rap = man["read_across"]["weight"], man["read_across"]["power"]
P = pickle.load(open("var/study/krr_pieces.pkl", "rb")); mean = P["members"].mean(0)
rmse = lambda p, y: float(np.sqrt(np.mean((p - y) ** 2)))
G = np.round(np.linspace(0, 1, 21), 2)
for t in range(D.N_TASKS):
    mv = np.isfinite(S.val_y[:, t]); vy = S.val_y[mv, t]
    vs = [s for s, k in zip(S.val_smiles, mv) if k]
    measured = sorted((s, v) for s, v in zip(S.train_smiles, S.train_y[:, t]) if np.isfinite(v))
    near, nearest = read_across_neighbours(vs, [s for s, _ in measured], [v for _, v in measured])
    p = blend((1 - beta[t]) * mean[mv, t] + beta[t] * P["trees"][mv, t], near, nearest, raw[t], rap[t])
    q = preds[mv, t]
    rng = np.random.default_rng(0); sn = sc = 0.0
    for r in range(50):
        half = rng.permutation(len(vy)) < len(vy) // 2
        for a, b in ((half, ~half), (~half, half)):
            g = min(G, key=lambda g: (np.mean(((1 - g) * p[a] + g * q[a] - vy[a]) ** 2), g))
            sn += np.sum(((1 - g) * p[b] + g * q[b] - vy[b]) ** 2); sc += np.sum((p[b] - vy[b]) ** 2)
    gfull = min(G, key=lambda g: (np.mean(((1 - g) * p + g * q - vy) ** 2), g))
    print(D.SHORT[t], len(vy), "mlp", round(rmse(q, vy), 3), "served", round(rmse(p, vy), 3),
          "cv blend", round(float(np.sqrt(sn / sc)) * rmse(p, vy), 4), "ratio", round(float(np.sqrt(sn / sc)), 4), "g", gfull,
          "corr", np.corrcoef(q - vy, p - vy)[0, 1].round(2), flush=True)
