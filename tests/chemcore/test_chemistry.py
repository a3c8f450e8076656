"""RDKit parsing: canonical forms, salts, and RDKit's own reasons for refusals."""

import pytest

from chemcore.chemistry import InvalidSmiles, parse_smiles


def parse(text: str):
    return parse_smiles(text, max_chars=500)


def test_canonicalises_equivalent_inputs_to_one_smiles():
    assert parse("OCC").canonical_smiles == parse("C(O)C").canonical_smiles == "CCO"


def test_formula_and_weight():
    aspirin = parse("CC(=O)Oc1ccccc1C(=O)O")
    assert aspirin.formula == "C9H8O4"
    assert aspirin.molecular_weight == pytest.approx(180.159, abs=0.01)


@pytest.mark.parametrize(
    ("text", "kept", "removed"),
    [
        ("CC(=O)[O-].[Na+]", "CC(=O)O", "[Na+]"),  # neutralised (chemcore.standardise)
        ("Cl.CCN", "CCN", "Cl"),
        ("O.O.c1ccccc1C(=O)O", "O=C(O)c1ccccc1", "O"),
    ],
)
def test_salts_and_mixtures_keep_largest_organic_fragment(text, kept, removed):
    parsed = parse(text)
    assert parsed.canonical_smiles == kept
    assert removed in parsed.removed_fragments
    assert "largest organic fragment" in parsed.standardisation_note


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("C1CC", "unclosed ring"),
        ("C(C)(C)(C)(C)C", "valence"),
        ("c1cccc1", "kekulize"),
        ("CC(", "syntax error"),
        ("CC C", "no spaces"),
    ],
)
def test_invalid_smiles_report_rdkit_reason(text, reason):
    with pytest.raises(InvalidSmiles) as error:
        parse(text)
    assert reason in str(error.value)
    assert repr(text) in str(error.value)


def test_empty_and_over_long_inputs_have_their_own_messages():
    with pytest.raises(InvalidSmiles, match="Please enter a SMILES"):
        parse("   ")
    with pytest.raises(InvalidSmiles, match="limit is 10 characters"):
        parse_smiles("C" * 11, max_chars=10)


@pytest.mark.parametrize(
    ("text", "shown", "position"),
    [
        ("C😀", "'😀' (U+1F600)", 2),
        ("😀C", "'😀' (U+1F600)", 1),
        ("c1ccccc1ééé", "'é' (U+00E9)", 9),
        ("CC\u200bO", "'\\u200b' (U+200B)", 3),
        ("C\u00a0O", "'\\xa0' (U+00A0)", 2),
    ],
)
def test_non_ascii_characters_are_refused_with_their_position(text, shown, position):
    # RDKit alone reads `C😀` as methane and `c1ccccc1ééé` as benzene: a different molecule.
    with pytest.raises(InvalidSmiles) as error:
        parse(text)
    assert f"character {shown} at position {position} is not ASCII" in str(error.value)


def test_a_leading_byte_order_mark_and_whitespace_are_removed():
    parsed = parse(" \ufeffCCO\u00a0\n")
    assert (parsed.input_text, parsed.canonical_smiles) == ("CCO", "CCO")
