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


class BitIndex:
    """Which fingerprints have each bit (an inverted index), for Tanimoto against all of them
    from the query's ~50 set bits alone: the bits in common are counted by gathering those
    bits' rows, not by ANDing the query with every row of a packed matrix (0.26 ms for 11,000
    molecules instead of 0.92 ms; the same integer counts, so the same numbers)."""

    def __init__(self, fingerprints: Sequence) -> None:
        self.size = len(fingerprints)
        bits = fingerprints[0].GetNumBits() if fingerprints else 0
        on = [np.fromiter(fp.GetOnBits(), dtype=np.int32) for fp in fingerprints]
        self.counts = np.array([len(row) for row in on], dtype=np.int64)
        if not on:
            self.rows, self.starts = np.zeros(0, dtype=np.int32), np.zeros(bits + 1, np.int64)
            return
        which = np.concatenate(on)
        owner = np.repeat(np.arange(self.size, dtype=np.int32), self.counts)
        order = np.argsort(which, kind="stable")
        self.rows = owner[order]  # rows holding bit b: rows[starts[b]:starts[b + 1]]
        self.starts = np.zeros(bits + 1, dtype=np.int64)
        np.cumsum(np.bincount(which, minlength=bits), out=self.starts[1:])

    def similarity(self, mol: Chem.Mol) -> np.ndarray:
        """Tanimoto of `mol` to each indexed fingerprint, as RDKit's BulkTanimotoSimilarity
        computes it (common / (a + b - common), 0 with no bit set on either side)."""
        on = list(fingerprint(mol).GetOnBits())
        starts, rows = self.starts, self.rows
        gathered = [rows[starts[b] : starts[b + 1]] for b in on]
        hits = np.concatenate(gathered) if gathered else np.zeros(0, dtype=np.int32)
        common = np.bincount(hits, minlength=self.size).astype(np.int64)
        union = self.counts + len(on) - common
        out = np.zeros(self.size, dtype=np.float64)
        np.divide(common, union, out=out, where=union != 0)
        return out
