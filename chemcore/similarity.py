"""The one molecular similarity used by training and serving (neighbours, domain, uncertainty).

Morgan radius 2, 2,048 bits, Tanimoto: the site's nearest-neighbour display, its domain check
and the distance term of the uncertainty must all see the same number, so both sides use this.
"""

from __future__ import annotations

from collections.abc import Sequence

from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator

_MORGAN = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)


def fingerprint(mol: Chem.Mol) -> DataStructs.ExplicitBitVect:
    """Morgan radius 2, 2,048 bits."""
    return _MORGAN.GetFingerprint(mol)


def bulk_similarity(mol: Chem.Mol, fingerprints: Sequence) -> list[float]:
    """Tanimoto similarity of `mol` to each of `fingerprints` (RDKit's bulk routine)."""
    return DataStructs.BulkTanimotoSimilarity(fingerprint(mol), list(fingerprints))
