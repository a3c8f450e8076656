"""The one molecular similarity used by training and serving (neighbours, domain, uncertainty).

Morgan radius 2, 2,048 bits, Tanimoto: the site's nearest-neighbour display, its domain check
and the distance term of the uncertainty must all see the same number, so both sides use this.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator

_MORGAN = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)


def fingerprint(mol: Chem.Mol) -> DataStructs.ExplicitBitVect:
    """Morgan radius 2, 2,048 bits."""
    return _MORGAN.GetFingerprint(mol)


def bulk_similarity(mol: Chem.Mol, fingerprints: Sequence) -> list[float]:
    """Tanimoto similarity of `mol` to each of `fingerprints` (RDKit's bulk routine)."""
    return DataStructs.BulkTanimotoSimilarity(fingerprint(mol), list(fingerprints))


def packed(fingerprints: Sequence) -> np.ndarray:
    """Fingerprints as an (n, bits / 64) uint64 array, for `packed_similarity`."""
    if not fingerprints:
        return np.zeros((0, 0), dtype=np.uint64)
    bits = np.zeros((len(fingerprints), fingerprints[0].GetNumBits()), dtype=np.uint8)
    for row, fp in zip(bits, fingerprints):
        DataStructs.ConvertToNumpyArray(fp, row)
    return np.packbits(bits, axis=1).view(np.uint64)


def packed_similarity(mol: Chem.Mol, matrix: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Tanimoto of `mol` to each row of `matrix` (`packed`; `counts`: its bits set per row),
    as RDKit's BulkTanimotoSimilarity computes it (common / (a + b - common), 0 with no bit
    set on either side) in a few NumPy steps: ~0.5 ms for 11,000 molecules instead of ~3.5."""
    query = packed([fingerprint(mol)])[0]
    common = np.bitwise_count(matrix & query).sum(axis=1, dtype=np.int64)
    union = counts + int(np.bitwise_count(query).sum()) - common
    out = np.zeros(len(matrix), dtype=np.float64)
    np.divide(common, union, out=out, where=union != 0)
    return out
