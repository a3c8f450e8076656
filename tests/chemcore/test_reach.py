"""Reach: long drugs fit, stereo/isotope variants of known atoms are read as the known atom,
unknown elements are still refused (chemcore.tokens, chemcore.network)."""

import pytest
from rdkit import Chem

from chemcore.standardise import standardise_smiles
from chemcore.tokens import candidates, readable

CYCLOSPORIN = (
    "CC[C@H]1C(=O)N(CC(=O)N([C@H](C(=O)N[C@H](C(=O)N([C@H](C(=O)N[C@H](C(=O)N[C@@H](C(=O)"
    "N([C@H](C(=O)N([C@H](C(=O)N([C@H](C(=O)N([C@H](C(=O)N1)[C@@H]([C@H](C)C/C=C/C)O)C)"
    "C(C)C)C)CC(C)C)C)CC(C)C)C)C)C)CC(C)C)C)C(C)C)CC(C)C)C)C"
)
SOFOSBUVIR = (
    "CC(C)OC(=O)[C@H](C)N[P@](=O)(OC[C@H]1O[C@@H](n2ccc(=O)[nH]c2=O)[C@](C)(F)[C@@H]1O)Oc1ccccc1"
)


def test_candidates_keep_element_and_charge():
    assert candidates("[N@]")[:2] == ["[N]", "N"]
    assert candidates("[13CH3]")[:2] == ["[CH3]", "C"]
    assert candidates("[N@@+]")[0] == "[N+]" and "N" not in candidates("[N@@+]")
    assert all(c.startswith("[Na") and c.endswith("+]") for c in candidates("[Na+]"))
    assert candidates("C") == [] and candidates("(") == []


def test_readable_maps_each_unknown_once_and_keeps_what_has_no_stand_in():
    vocab = {"C", "N", "[C@H]", "1", "(", ")", "[Si]"}
    pieces = ["C", "[N@]", "1", "[N@]", "[SiH3]", "[Pt]", "[Pt]"]
    out, mapped, unknown = readable(pieces, vocab)
    assert out == ["C", "N", "1", "N", "[Si]", "[Pt]", "[Pt]"]
    assert mapped == [("[N@]", "N"), ("[SiH3]", "[Si]")]
    assert unknown == ["[Pt]"]


def test_cyclosporin_fits_the_model(predictor):
    smiles = standardise_smiles(CYCLOSPORIN)
    assert Chem.MolFromSmiles(smiles).GetNumHeavyAtoms() == 85
    predictor.network.check_length(smiles)
    predictor.network.check_tokens(smiles)
    (result,) = predictor.network.predict_with_uncertainty([smiles])
    assert len(result.values) == len(predictor.outputs)


def test_unseen_stereo_tokens_are_read_as_the_atom(predictor):
    smiles = standardise_smiles(SOFOSBUVIR)
    text, mapped, unknown = predictor.network.reading(smiles)
    assert not unknown
    assert all(
        piece in predictor.network.tokenizer.get_vocab() for piece, _ in [(t, 0) for _, t in mapped]
    )
    # what is read for an unseen stereo form is what is read without the stereo mark
    flat = Chem.MolToSmiles(Chem.MolFromSmiles(smiles), isomericSmiles=False)
    (with_stereo,) = predictor.network.predict_with_uncertainty([smiles])
    assert with_stereo.values and not predictor.network.unknown_tokens(flat)


@pytest.mark.parametrize("smiles", ["CC[Pb](CC)(CC)CC", "[Fe]", "C[Hg]Cl"])
def test_metals_are_still_refused(predictor, smiles):
    from chemcore.network import UnknownTokens

    with pytest.raises(UnknownTokens):
        predictor.network.check_tokens(smiles)


@pytest.mark.parametrize("smiles", ["*CC", "[*:1]c1ccccc1", "CC(=O)N(*)C"])
def test_a_wildcard_atom_is_refused_as_not_a_whole_molecule(predictor, smiles):
    from chemcore.model import Refused

    # '*' is in the tokenizer's vocabulary, so only this check stops a prediction for it
    with pytest.raises(Refused, match=r"wildcard atom \(\*\).*not a whole molecule"):
        predictor.predict(smiles)
    (got,) = predictor.predict([smiles])
    assert isinstance(got, Refused) and "wildcard" in str(got)


def test_a_wildcard_is_not_called_a_metal(predictor):
    from chemcore.chemistry import metals

    assert metals(["*", "C", "Na", "Se"]) == ["Na"]
    # a stored prediction of a fragment (made before the refusal) is judged without "metal"
    reasons = predictor.domain.molecule_reasons(Chem.MolFromSmiles("*CC"))
    assert reasons and not any("metal" in reason for _, reason in reasons)
