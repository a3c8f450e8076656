"""What a molecule is, for training and serving alike (Django-free, RDKit only).

One standardisation is applied to every training molecule and to every molecule a user
submits, so the model always sees the same canonical SMILES for the same compound:

1. keep the largest *organic* fragment (contains carbon; ties broken by heavy atoms, then
   weight): counter-ions, water and other small companions of a salt or mixture go;
2. neutralise charges where a neutral form exists (RDKit's ``rdMolStandardize.Uncharger``:
   carboxylates and phenolates gain H, protonated amines lose it). Measured logS/logD/ΔG
   refer to the compound, not to one ionisation state, and the data sets mix drawn forms.
   Charges with no neutral form stay (quaternary ammonium, nitro ``[N+](=O)[O-]``);
3. canonical RDKit SMILES (stereochemistry kept).
"""

from __future__ import annotations

from dataclasses import dataclass

from rdkit import Chem
from rdkit.Chem import Descriptors
from rdkit.Chem.MolStandardize import rdMolStandardize

ORGANIC_ELEMENTS = frozenset({"C"})


@dataclass(frozen=True)
class Standardised:
    mol: Chem.Mol
    smiles: str  # canonical RDKit SMILES of `mol`
    removed_fragments: list[str]
    neutralised: bool  # a formal charge was changed


def _fragment_rank(frag: Chem.Mol) -> tuple[int, int, float]:
    organic = any(atom.GetSymbol() in ORGANIC_ELEMENTS for atom in frag.GetAtoms())
    return (int(organic), frag.GetNumHeavyAtoms(), Descriptors.MolWt(frag))


def largest_organic_fragment(mol: Chem.Mol) -> tuple[Chem.Mol, list[str]]:
    """The fragment the prediction is for, and the canonical SMILES of those removed."""
    fragments = Chem.GetMolFrags(mol, asMols=True, sanitizeFrags=True)
    if len(fragments) == 1:
        return mol, []
    keep = max(fragments, key=_fragment_rank)
    return keep, [Chem.MolToSmiles(f) for f in fragments if f is not keep]


def _charges(mol: Chem.Mol) -> list[int]:
    return [atom.GetFormalCharge() for atom in mol.GetAtoms()]


def standardise_mol(mol: Chem.Mol) -> Standardised:
    """Fragment choice, neutralisation and canonical SMILES of a parsed molecule."""
    frag, removed = largest_organic_fragment(mol)
    neutral = rdMolStandardize.Uncharger().uncharge(frag)
    Chem.SanitizeMol(neutral)
    return Standardised(
        mol=neutral,
        smiles=Chem.MolToSmiles(neutral),
        removed_fragments=removed,
        neutralised=_charges(neutral) != _charges(frag),
    )


def standardise_smiles(smiles: str) -> str | None:
    """Canonical standardised SMILES, or None when RDKit cannot read the input."""
    mol = Chem.MolFromSmiles(smiles)
    if mol is None or mol.GetNumAtoms() == 0:
        return None
    return standardise_mol(mol).smiles
