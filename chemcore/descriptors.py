"""RDKit 2D descriptors by name, computed one way for training and serving.

The descriptor model beside the network (chemcore.descriptor_model) and the random-forest
baseline read these; a value RDKit cannot compute, or an infinite one, counts as 0 and every
value is clipped to ±1e6, so one odd molecule never breaks a batch.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from rdkit import Chem
from rdkit.Chem import Descriptors

_TABLE = dict(Descriptors.descList)
ALL = tuple(_TABLE)  # every RDKit 2D descriptor, in RDKit's order

# The slowest ones (about 12 of the 18 ms all of them take per molecule here), left out of the
# descriptor model: on validation they changed nothing that matters (bench_descriptor_blend.py).
SLOW = frozenset(
    "qed BCUT2D_MWHI BCUT2D_MWLOW BCUT2D_CHGHI BCUT2D_CHGLO BCUT2D_LOGPHI BCUT2D_LOGPLOW "
    "BCUT2D_MRHI BCUT2D_MRLOW MinAbsEStateIndex MaxEStateIndex MinEStateIndex "
    "MaxAbsEStateIndex BertzCT SPS AvgIpc Ipc".split()
)


def compute(mols: Sequence[Chem.Mol], names: Sequence[str] = ALL) -> np.ndarray:
    """(molecules, names) descriptor values; unknown names raise KeyError."""
    functions = [_TABLE[name] for name in names]
    values = np.zeros((len(mols), len(functions)), dtype=np.float64)
    for i, mol in enumerate(mols):
        for j, function in enumerate(functions):
            try:
                values[i, j] = function(mol)
            except Exception:  # RDKit raises for some descriptors on some molecules
                values[i, j] = np.nan
    values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
    return np.clip(values, -1e6, 1e6)


def from_smiles(smiles: Sequence[str], names: Sequence[str] = ALL) -> np.ndarray:
    """`compute` on molecules read from (canonical) SMILES, as training reads them."""
    return compute([Chem.MolFromSmiles(text) for text in smiles], names)
