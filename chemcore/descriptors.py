"""RDKit 2D descriptors by name, computed one way for training and serving.

The descriptor model beside the network (chemcore.descriptor_model) and the random-forest
baseline read these; a value RDKit cannot compute, or an infinite one, counts as 0 and every
value is clipped to ±1e6, so one odd molecule never breaks a batch.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
from rdkit import Chem
from rdkit.Chem import Descriptors

_TABLE = dict(Descriptors.descList)
ALL = tuple(_TABLE)  # every RDKit 2D descriptor, in RDKit's order

# The slowest ones (about 12 of the 18 ms all of them take per molecule here), left out of the
# descriptor model: on validation they changed nothing that matters
# (docs/studies/descriptor-blend.md).
SLOW = frozenset(
    "qed BCUT2D_MWHI BCUT2D_MWLOW BCUT2D_CHGHI BCUT2D_CHGLO BCUT2D_LOGPHI BCUT2D_LOGPLOW "
    "BCUT2D_MRHI BCUT2D_MRLOW MinAbsEStateIndex MaxEStateIndex MinEStateIndex "
    "MaxAbsEStateIndex BertzCT SPS AvgIpc Ipc".split()
)


# "MorganCount:<i>": bit i of the Morgan count fingerprint (radius 2, MORGAN_SIZE bits), so a
# descriptor model can read substructure counts beside the RDKit descriptors.
MORGAN_PREFIX, MORGAN_SIZE = "MorganCount:", 1024
MORGAN_COUNTS = tuple(f"{MORGAN_PREFIX}{i}" for i in range(MORGAN_SIZE))


def _morgan_counts(mol: Chem.Mol) -> np.ndarray:
    from rdkit.Chem import rdFingerprintGenerator

    global _GENERATOR
    if _GENERATOR is None:
        _GENERATOR = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=MORGAN_SIZE)
    return _GENERATOR.GetCountFingerprintAsNumPy(mol).astype(np.float64)


_GENERATOR = None


@functools.lru_cache(maxsize=8)
def _plan(names: tuple[str, ...]):
    """Which columns are RDKit functions and which Morgan bits, worked out once per name list
    (the descriptor model asks for the same 1,224 names on every molecule)."""
    columns = tuple(
        (j, _TABLE[name]) for j, name in enumerate(names) if not name.startswith(MORGAN_PREFIX)
    )
    bits = [
        (j, int(name[len(MORGAN_PREFIX) :]))
        for j, name in enumerate(names)
        if name.startswith(MORGAN_PREFIX)
    ]
    where = np.array([j for j, _ in bits], dtype=np.intp)
    which = np.array([bit for _, bit in bits], dtype=np.intp)
    return columns, bool(bits), where, which


def compute(mols: Sequence[Chem.Mol], names: Sequence[str] = ALL) -> np.ndarray:
    """(molecules, names) descriptor values; unknown names raise KeyError."""
    columns, bits, where, which = _plan(tuple(names))
    values = np.zeros((len(mols), len(names)), dtype=np.float64)
    for i, mol in enumerate(mols):
        for j, function in columns:
            try:
                values[i, j] = function(mol)
            except Exception:  # RDKit raises for some descriptors on some molecules
                values[i, j] = np.nan
        if bits:
            values[i, where] = _morgan_counts(mol)[which]
    values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
    return np.clip(values, -1e6, 1e6)


def from_smiles(smiles: Sequence[str], names: Sequence[str] = ALL) -> np.ndarray:
    """`compute` on molecules read from (canonical) SMILES, as training reads them."""
    return compute([Chem.MolFromSmiles(text) for text in smiles], names)
