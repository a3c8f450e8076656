"""RDKit parsing and standardisation: the only place that decides what a molecule is.

Refusals carry RDKit's own reason (unclosed ring, valence, kekulisation...), captured
from RDKit's log, so the user learns what is wrong with the text they typed.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from rdkit import Chem, rdBase
from rdkit.Chem import Descriptors, rdMolDescriptors

from chemcore.similarity import bulk_similarity, fingerprint  # noqa: F401  (re-exported)
from chemcore.standardise import standardise_mol
from chemcore.tokens import NON_METALS as _NON_METALS

rdBase.LogToPythonLogger()
_rdkit_logger = logging.getLogger("rdkit")
_rdkit_logger.propagate = False  # reasons are reported to the user, not to stderr
_rdkit_logger.handlers[:] = [logging.NullHandler()]  # drop RDKit's own stderr handler
_capture_lock = threading.Lock()

# Not metals, for the applicability domain: one list with the tokenizer's (chemcore.tokens).
NON_METALS = _NON_METALS


class InvalidSmiles(ValueError):
    """Input that is not a usable molecule; `str()` is a message fit for the user."""


@dataclass
class ParsedMolecule:
    input_text: str
    canonical_smiles: str
    mol: Chem.Mol
    formula: str
    molecular_weight: float
    removed_fragments: list[str] = field(default_factory=list)

    @property
    def standardisation_note(self) -> str:
        if not self.removed_fragments:
            return ""
        removed = ", ".join(self.removed_fragments)
        return f"Mixture or salt: predicted for the largest organic fragment; removed {removed}."


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _rdkit_reason(messages: list[str]) -> str:
    """Turn RDKit's log lines into one sentence, dropping the ASCII caret art."""
    useful = []
    for raw in messages:
        text = raw.split("] ", 1)[-1] if raw.startswith("[") else raw
        text = text.replace("SMILES Parse Error: ", "").split(" for input: ")[0]
        text = " ".join(text.split()).rstrip(":.").replace("check for mistakes", "look")
        if not text or set(text) <= {"~", "^"} or text.startswith("Failed parsing SMILES"):
            continue
        if text not in useful:
            useful.append(text)
    return "; ".join(useful[:2]) or "RDKit could not read it"


def read_with_reason(reader, text: str) -> tuple[Chem.Mol | None, str]:
    """Run an RDKit reader (MolFromSmiles, MolFromMolBlock...) and keep its complaint if it fails."""
    capture = _Capture()
    with _capture_lock:
        _rdkit_logger.addHandler(capture)
        try:
            mol = reader(text)
        finally:
            _rdkit_logger.removeHandler(capture)
    return mol, "" if mol is not None else _rdkit_reason(capture.messages)


def checked_text(text: str, *, max_chars: int) -> str:
    """The SMILES text to parse, or InvalidSmiles: every input path (form, batch, API) comes here.

    RDKit silently drops some non-ASCII characters at either end (`C😀` reads as methane),
    so anything outside ASCII is refused, naming the character and its 1-based position.
    A leading byte-order mark and surrounding whitespace are removed first.
    """
    text = (text or "").strip().lstrip("\ufeff").strip()
    if not text:
        raise InvalidSmiles("Please enter a SMILES string.")
    if len(text) > max_chars:
        raise InvalidSmiles(
            f"SMILES is {len(text)} characters long; the limit is {max_chars} characters."
        )
    bad = [(position, ch) for position, ch in enumerate(text, 1) if not ch.isascii()]
    if bad:
        position, ch = bad[0]
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        raise InvalidSmiles(
            f"Invalid SMILES {text!r}: character {ch!r} (U+{ord(ch):04X}) at position "
            f"{position} is not ASCII{more}; a SMILES string uses ASCII characters only."
        )
    if any(ch.isspace() for ch in text):
        raise InvalidSmiles(f"Invalid SMILES {text!r}: a SMILES string contains no spaces.")
    return text


def _mol_from_smiles(text: str) -> Chem.Mol:
    mol, reason = read_with_reason(Chem.MolFromSmiles, text)
    if mol is None:
        raise InvalidSmiles(f"Invalid SMILES {text!r}: {reason}.")
    return mol


def parse_smiles(text: str, *, max_chars: int) -> ParsedMolecule:
    """Parse one SMILES string and standardise it (largest organic fragment, neutral, canonical)."""
    text = checked_text(text, max_chars=max_chars)
    mol = _mol_from_smiles(text)
    if mol.GetNumAtoms() == 0:
        raise InvalidSmiles(f"Invalid SMILES {text!r}: it contains no atoms.")
    std = standardise_mol(mol)  # shared with training: chemcore.standardise
    return ParsedMolecule(
        input_text=text,
        canonical_smiles=std.smiles,
        mol=std.mol,
        formula=rdMolDescriptors.CalcMolFormula(std.mol),
        molecular_weight=round(Descriptors.MolWt(std.mol), 3),
        removed_fragments=std.removed_fragments,
    )


def elements(mol: Chem.Mol) -> list[str]:
    """The element symbols in the molecule, sorted, each once (hydrogens only if explicit)."""
    return sorted({atom.GetSymbol() for atom in mol.GetAtoms()})


def metals(symbols: list[str]) -> list[str]:
    """The metal symbols among `symbols` ("*", a wildcard, is no element and no metal)."""
    return [symbol for symbol in symbols if symbol not in NON_METALS and symbol != "*"]


def check_whole(parsed: ParsedMolecule) -> None:
    """InvalidSmiles for a wildcard atom (`*`, `[*:1]`): an R-group or attachment point is not a
    molecule anyone measured, so no value would mean anything (RDKit reads it as atom 0)."""
    if any(atom.GetAtomicNum() == 0 for atom in parsed.mol.GetAtoms()):
        raise InvalidSmiles(
            f"{parsed.input_text!r} has a wildcard atom (*): an attachment point or R-group, not "
            "a whole molecule. Put the atom or group it stands for in its place (H for a plain "
            "end) and predict that."
        )


def is_inorganic(mol: Chem.Mol) -> bool:
    """No carbon, or carbon only as in carbonates, CO2 and CS2 (bare C bonded to O/S only)."""
    for atom in mol.GetAtoms():
        if atom.GetSymbol() != "C":
            continue
        neighbours = {n.GetSymbol() for n in atom.GetNeighbors()}
        if atom.GetTotalNumHs() or not neighbours <= {"O", "S"}:
            return False
    return True


def molecular_weight(mol: Chem.Mol) -> float:
    return Descriptors.MolWt(mol)
