"""D-MPNN on the molecular graph (+ RDKit descriptors), blended with the served v3.2.0 value
(var/notes/decision-gnn.md)."""
import os, pickle, sys, time
import numpy as np, torch
from rdkit import Chem
from training import data as D
torch.set_num_threads(2)
t0 = time.time()
S = D.make_splits(version="3.1")
# -- the served value on validation (the model object, as the site gives it) -------------------
if not os.path.exists("var/study/served32_val.pkl"):
    from chemcore.model import Model
    m = Model.load("checkpoints/default")
    out = m.predict(S.val_smiles, batch_size=256)
    served = np.array([[np.nan] * D.N_TASKS if isinstance(o, Exception) else o.values for o in out], float)
    pickle.dump(served, open("var/study/served32_val.pkl", "wb"))
served = pickle.load(open("var/study/served32_val.pkl", "rb"))
print("served", served.shape, np.isnan(served[:, 0]).sum(), f"{time.time()-t0:.0f}s", flush=True)
# -- features -----------------------------------------------------------------------------------
ELEM = [1, 3, 5, 6, 7, 8, 9, 11, 12, 14, 15, 16, 17, 19, 20, 26, 29, 30, 34, 35, 50, 53]
HYB = [Chem.HybridizationType.S, Chem.HybridizationType.SP, Chem.HybridizationType.SP2,
       Chem.HybridizationType.SP3, Chem.HybridizationType.SP3D, Chem.HybridizationType.SP3D2]
def onehot(v, opts):
    o = [0.0] * (len(opts) + 1); o[opts.index(v) if v in opts else len(opts)] = 1.0; return o
def atom_f(a):
    return (onehot(a.GetAtomicNum(), ELEM) + onehot(a.GetTotalDegree(), [0, 1, 2, 3, 4, 5])
            + onehot(a.GetFormalCharge(), [-2, -1, 0, 1, 2]) + onehot(int(a.GetChiralTag()), [0, 1, 2])
            + onehot(a.GetTotalNumHs(), [0, 1, 2, 3, 4]) + onehot(a.GetHybridization(), HYB)
            + [float(a.GetIsAromatic()), float(a.IsInRing()), a.GetMass() * 0.01])
BT = [Chem.BondType.SINGLE, Chem.BondType.DOUBLE, Chem.BondType.TRIPLE, Chem.BondType.AROMATIC]
def bond_f(b):
    return onehot(b.GetBondType(), BT) + [float(b.GetIsConjugated()), float(b.IsInRing())] + onehot(int(b.GetStereo()), [0, 1, 2, 3])
def graph(s):
    mol = Chem.MolFromSmiles(s)
    x = np.array([atom_f(a) for a in mol.GetAtoms()], np.float32)
    src, dst, ef = [], [], []
    for b in mol.GetBonds():
        i, j = b.GetBeginAtomIdx(), b.GetEndAtomIdx(); f = bond_f(b)
        src += [i, j]; dst += [j, i]; ef += [f, f]
    e = np.array(ef, np.float32).reshape(len(src), -1 if ef else len(bond_f_dummy))
    return x, np.array(src, np.int64), np.array(dst, np.int64), e
bond_f_dummy = [0.0] * 12
G_tr = [graph(s) for s in S.train_smiles]; G_v = [graph(s) for s in S.val_smiles]
FA, FB = G_tr[0][0].shape[1], 12
print("graphs", f"{time.time()-t0:.0f}s", flush=True)
X = pickle.load(open("var/study/tree_noise_X.pkl", "rb"))
Xf = np.array([X[s] for s in S.train_smiles]); Xv = np.array([X[s] for s in S.val_smiles])
nd = Xf.shape[1] - 1024
def prep_fit(A):
    D_ = np.where(np.isfinite(A[:, :nd]), A[:, :nd], np.nan)
    lo, hi = np.nanpercentile(D_, 1, 0), np.nanpercentile(D_, 99, 0)
    Dc = np.clip(D_, lo, hi); return lo, hi, np.nanmean(Dc, 0), np.nanstd(Dc, 0) + 1e-6
def prep(A, st):
    lo, hi, mu, sd = st
    D_ = np.where(np.isfinite(A[:, :nd]), A[:, :nd], np.nan)
    return np.nan_to_num((np.clip(D_, lo, hi) - mu) / sd).astype(np.float32)
st = prep_fit(Xf); Df, Dv = prep(Xf, st), prep(Xv, st)
USE_DESC = os.environ.get("GNN_DESC", "1") == "1"
def collate(gs):
    xs, srcs, dsts, es, mol_of = [], [], [], [], []; off = 0; eoff = 0; revs = []
    for k, (x, s, d, e) in enumerate(gs):
        xs.append(x); srcs.append(s + off); dsts.append(d + off); es.append(e)
        revs.append(np.arange(len(s)) ^ 1 if len(s) else np.zeros(0, np.int64))
        revs[-1] = revs[-1] + eoff; mol_of.append(np.full(len(x), k)); off += len(x); eoff += len(s)
    return (torch.from_numpy(np.concatenate(xs)), torch.from_numpy(np.concatenate(srcs)), torch.from_numpy(np.concatenate(dsts)),
            torch.from_numpy(np.concatenate(es)), torch.from_numpy(np.concatenate(revs)), torch.from_numpy(np.concatenate(mol_of)), len(gs))
H = int(os.environ.get("GNN_H", 300)); DEPTH = 3
POOL = os.environ.get("GNN_POOL", "mean")
class MPNN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.Wi = torch.nn.Linear(FA + FB, H, bias=False); self.Wh = torch.nn.Linear(H, H, bias=False)
        self.Wo = torch.nn.Linear(FA + H, H)
        self.head = torch.nn.Sequential(torch.nn.Dropout(0.1), torch.nn.Linear(H * (2 if POOL == "meansum" else 1) + (nd if USE_DESC else 0), H), torch.nn.ReLU(),
                                        torch.nn.Dropout(0.1), torch.nn.Linear(H, D.N_TASKS))
    def forward(self, b, desc):
        x, src, dst, e, rev, mol_of, n = b
        h0 = torch.relu(self.Wi(torch.cat([x[src], e], 1))); h = h0
        for _ in range(DEPTH - 1):
            a = torch.zeros(len(x), H).index_add_(0, dst, h)
            h = torch.relu(h0 + self.Wh(a[src] - h[rev]))
        a = torch.zeros(len(x), H).index_add_(0, dst, h)
        ah = torch.relu(self.Wo(torch.cat([x, a], 1)))
        cnt = torch.zeros(n).index_add_(0, mol_of, torch.ones(len(x)))
        sv = torch.zeros(n, H).index_add_(0, mol_of, ah); mv = sv / cnt[:, None]
        if POOL == "meansum":
            mv = torch.cat([mv, sv / 10.0], 1)
        return self.head(torch.cat([mv, desc], 1) if USE_DESC else mv)
Y = S.train_y; ym, ys = np.nanmean(Y, 0), np.nanstd(Y, 0); Yz = ((Y - ym) / ys).astype(np.float32)
inner_fit, inner_hold = D.scaffold_split(S.train_smiles, 0.1, 0)
inner_fit, inner_hold = np.asarray(inner_fit), np.asarray(inner_hold)
def predict(net, G, Dd):
    net.eval(); out = []
    with torch.no_grad():
        for i in range(0, len(G), 256):
            out.append(net(collate(G[i:i + 256]), torch.from_numpy(Dd[i:i + 256])).numpy())
    return np.concatenate(out)
EPOCHS = int(os.environ.get("GNN_EPOCHS", 40))
def train(seed):
    torch.manual_seed(seed); net = MPNN()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-5)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-3, total_steps=EPOCHS * (len(inner_fit) // 50 + 1), pct_start=0.1)
    rng = np.random.default_rng(seed); best = (1e9, None, 0)
    Gh = [G_tr[i] for i in inner_hold]; yh = Yz[inner_hold]; mh = np.isfinite(yh)
    for ep in range(EPOCHS):
        net.train(); perm = rng.permutation(inner_fit)
        for k in range(0, len(perm), 50):
            idx = perm[k:k + 50]; y = torch.from_numpy(Yz[idx]); m = torch.isfinite(y)
            p = net(collate([G_tr[i] for i in idx]), torch.from_numpy(Df[idx]))
            loss = ((p - torch.nan_to_num(y)) ** 2)[m].mean()
            opt.zero_grad(); loss.backward(); opt.step(); sched.step()
        ph = predict(net, Gh, Df[inner_hold])
        l = np.mean([np.mean((ph[mh[:, t], t] - yh[mh[:, t], t]) ** 2) for t in range(D.N_TASKS) if mh[:, t].sum() > 5])
        if l < best[0]:
            best = (l, {k: v.clone() for k, v in net.state_dict().items()}, ep)
        print(" ep", ep, round(float(l), 4), f"{time.time()-t0:.0f}s", flush=True)
    net.load_state_dict(best[1])
    print("seed", seed, "best epoch", best[2], "hold", round(best[0], 3), f"{time.time()-t0:.0f}s", flush=True)
    return predict(net, G_v, Dv) * ys + ym
NS = int(os.environ.get("GNN_SEEDS", 3)); tag = os.environ.get("GNN_TAG", "gnn")
preds = []
for s in range(NS):
    preds.append(train(s)); pickle.dump(preds, open(f"var/study/{tag}_val.pkl", "wb"))
preds = np.mean(preds, 0)
rmse = lambda p, y: float(np.sqrt(np.mean((p - y) ** 2)))
G = np.round(np.linspace(0, 1, 21), 2)
for t in range(D.N_TASKS):
    mv = np.isfinite(S.val_y[:, t]) & np.isfinite(served[:, t]); vy = S.val_y[mv, t]
    p = served[mv, t]; q = preds[mv, t]
    rng = np.random.default_rng(0); sn = sc = 0.0
    for r in range(50):
        half = rng.permutation(len(vy)) < len(vy) // 2
        for a, b in ((half, ~half), (~half, half)):
            g = min(G, key=lambda g: (np.mean(((1 - g) * p[a] + g * q[a] - vy[a]) ** 2), g))
            sn += np.sum(((1 - g) * p[b] + g * q[b] - vy[b]) ** 2); sc += np.sum((p[b] - vy[b]) ** 2)
    gfull = min(G, key=lambda g: (np.mean(((1 - g) * p + g * q - vy) ** 2), g))
    print(D.SHORT[t], len(vy), "gnn", round(rmse(q, vy), 3), "served", round(rmse(p, vy), 3),
          "ratio", round(float(np.sqrt(sn / sc)), 4), "g", gfull, "corr", np.corrcoef(q - vy, p - vy)[0, 1].round(2), flush=True)
