"""Django-free chemistry of structure search: fingerprints stored packed, a query read as
SMILES or SMARTS, the screens over packed fingerprints, a match drawn highlighted.

predictions/search.py runs searches over stored records with these; a fingerprint is
compared with NumPy, 64 bits at a time.
"""

from __future__ import annotations

import logging
import time

import numpy as np
from rdkit import Chem, DataStructs

from chemcore import chemistry
from chemreport import bounded, rendering

log = logging.getLogger(__name__)

FP_BYTES = 256  # 2,048 bits
# Matches drawn on a result's picture: its first ones are enough to see where the pattern is.
HIGHLIGHT_MATCHES = 100


class SearchError(ValueError):
    """A query that cannot be searched; `str()` says why, for the page."""


def packed(fp: DataStructs.ExplicitBitVect) -> bytes:
    bits = np.zeros((fp.GetNumBits(),), dtype=np.uint8)
    DataStructs.ConvertToNumpyArray(fp, bits)
    return np.packbits(bits).tobytes()


def pattern_fingerprint(mol: Chem.Mol) -> DataStructs.ExplicitBitVect:
    return Chem.PatternFingerprint(mol, fpSize=FP_BYTES * 8)


def fingerprint_fields(mol: Chem.Mol) -> dict:
    """The stored search fields of a (standardised) molecule, as model field values."""
    morgan = chemistry.fingerprint(mol)
    return {
        "morgan_fp": packed(morgan),
        "morgan_bits": morgan.GetNumOnBits(),
        "pattern_fp": packed(pattern_fingerprint(mol)),
    }


def fingerprint_fields_of(smiles: str) -> dict:
    """`fingerprint_fields` of a stored canonical SMILES ({} if RDKit no longer reads it)."""
    mol = Chem.MolFromSmiles(smiles)
    return fingerprint_fields(mol) if mol is not None else {}


def matrix(blobs) -> np.ndarray:
    """Packed fingerprints as an (n, 32) uint64 array."""
    return np.frombuffer(b"".join(blobs), dtype=np.uint64).reshape(len(blobs), FP_BYTES // 8)


def substructure_query(text: str, max_chars: int) -> Chem.Mol:
    """The query molecule: SMILES first (so `C1=CC=CC=C1` matches aromatic rings), else SMARTS.

    A SMILES that leaves atoms with radicals (`[#7]`, `[C]`) is meant as SMARTS: as a
    molecule it would match only radicals.
    """
    text = text.strip()
    if not text or len(text) > max_chars or not text.isascii():
        raise SearchError("Type a SMILES or SMARTS pattern (ASCII, one line) to search for.")
    mol, _ = chemistry.read_with_reason(Chem.MolFromSmiles, text)
    if mol is not None and any(atom.GetNumRadicalElectrons() for atom in mol.GetAtoms()):
        mol = None
    if mol is None or mol.GetNumAtoms() == 0:
        mol, reason = chemistry.read_with_reason(Chem.MolFromSmarts, text)
        if mol is None or mol.GetNumAtoms() == 0:
            reason = reason or "it contains no atoms"
            raise SearchError(f"Not a valid SMILES or SMARTS pattern {text!r}: {reason}.")
    return mol


def similarity_query(text: str, max_chars: int) -> DataStructs.ExplicitBitVect:
    """The Morgan fingerprint of the standardised query molecule."""
    try:
        parsed = chemistry.parse_smiles(text, max_chars=max_chars)
    except chemistry.InvalidSmiles as error:
        raise SearchError(f"Similarity search needs one molecule as SMILES. {error}") from None
    return chemistry.fingerprint(parsed.mol)


def screened(pattern: Chem.Mol, stored: np.ndarray) -> np.ndarray:
    """Indices of the stored pattern fingerprints that hold every bit of `pattern`'s: only
    those can contain it."""
    screen = np.frombuffer(packed(pattern_fingerprint(pattern)), dtype=np.uint64)
    return np.flatnonzero(~np.any(screen & ~stored, axis=1))


def tanimoto(query: DataStructs.ExplicitBitVect, stored: np.ndarray, counts: np.ndarray):
    """Tanimoto of `query` to each stored Morgan fingerprint (their popcounts in `counts`)."""
    common = np.bitwise_count(stored & np.frombuffer(packed(query), dtype=np.uint64)).sum(axis=1)
    return common / (query.GetNumOnBits() + counts - common)


def highlight_svg(smiles: str, pattern: Chem.Mol, size: tuple[int, int], budget: float) -> str:
    """A small drawing of `smiles` with the atoms and bonds of `pattern`'s matches marked;
    "" when it cannot be drawn within `budget` seconds (the page then shows the stored picture).

    The matches are found in a helper process (bounded) and the layout is budgeted
    (rendering); a molecule RDKit cannot draw highlighted is drawn plain."""
    mol = Chem.MolFromSmiles(smiles)
    if mol is None or budget <= 0:
        return ""
    started = time.monotonic()
    try:
        atoms = bounded.call(
            "highlight", smiles, pattern.ToBinary(), HIGHLIGHT_MATCHES, budget=budget
        )
    except (bounded.OverBudget, bounded.HelperError) as error:
        log.warning("Matches of %s in %s not drawn: %r", Chem.MolToSmarts(pattern), smiles, error)
        atoms = []
    svg = rendering.molecule_svg_highlighted(
        mol,
        atoms,
        size,
        colour=None,
        clear_background=False,
        budget=budget - (time.monotonic() - started),
        placeholder=False,
    )
    return svg[svg.index("<svg") :] if svg else ""  # inline in the page: no XML declaration
