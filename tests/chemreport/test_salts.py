"""The salt note: what standardisation removed, read as a kind of salt, and the measured figures
it quotes (chemreport/salt_gaps.json, which must be what bench/bench_salts.py measures on the
shipped checkpoint)."""

import importlib.util
from pathlib import Path

import pytest

from chemcore.chemistry import parse_smiles
from chemreport import salts

ROOT = Path(__file__).resolve().parents[2]


def kind(text: str) -> str:
    note = parse_smiles(text, max_chars=1000).standardisation_note
    return salts.salt_kind(salts.removed_fragments(note))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[Na+].[O-]C(=O)c1ccccc1", "alkali"),  # sodium benzoate
        ("[NH4+].CC(=O)[O-]", "alkali"),  # ammonium acetate
        ("[K+].[K+].[O-]C(=O)CCCCC([O-])=O", "alkali"),
        ("CCCCCCCCCCCC(=O)[O-].CCCCCCCCCCCC(=O)[O-].[Zn+2]", "metal"),  # zinc laurate
        ("[Ca+2].CC(=O)[O-].CC(=O)[O-]", "metal"),
        ("[Cu+2].[Na+].[O-]S(=O)(=O)c1ccccc1", "metal"),  # a transition metal wins
        ("Cl.CN(C)CCCN1c2ccccc2CCc2ccccc21", "acid"),  # imipramine hydrochloride
        ("C[NH3+].[Cl-]", "acid"),
        ("OS(=O)(=O)O.Nc1ccccc1", "acid"),  # aniline sulfate
        ("CCO.CCCCCCO", "organic"),  # a mixture
        ("CS(=O)(=O)[O-].C[n+]1ccccc1", "organic"),  # a methyl sulfate counter-ion
        ("O.O.OC(=O)c1ccccc1", "water"),  # a hydrate
        ("OC(=O)c1ccccc1", ""),  # nothing removed
    ],
)
def test_what_was_removed_is_read_as_a_kind_of_salt(text, expected):
    assert kind(text) == expected


def test_bins_of_the_parents_logs():
    assert [salts.bin_of(v) for v in (-7.0, -3.01, -3.0, -1.01, -1.0, 2.0)] == [0, 0, 1, 1, 2, 2]
    assert salts.bin_words(0) == "below logS -3"
    assert salts.bin_words(1) == "between logS -3 and -1"
    assert salts.bin_words(2) == "at logS -1 or above"


def test_the_note_quotes_the_parents_bin_or_else_the_kind():
    table = salts.gaps()["kinds"]["alkali"]
    note = "Kept the largest organic fragment; removed [Na+]."
    logs = [{"label": "Aqueous solubility (logS)", "unit": "log(mol/L)", "value": -4.2}]
    binned = salts.parent_note(note, "C7H6O2", logs)
    cell = table["bins"][0]
    assert binned.startswith("Values are for the parent compound C7H6O2 after removing [Na+]")
    assert "can behave very differently" in binned
    assert (
        f"Of {cell['n']} sodium, potassium, lithium or ammonium salts of acids in AqSolDB whose "
        f"parent this model predicts below logS -3, {round(100 * cell['salt_more_soluble'])} % "
        f"measured more soluble than the parent's predicted logS (median difference "
        f"{cell['median']:+.1f} log units)." in binned
    )
    # what that suggests for the salt as given: the parent's logS moved by the cell's median,
    # and the middle half of such salts around it
    estimate = salts.estimate_for(note, logs)
    assert estimate == {
        "kind": "alkali",
        "n": cell["n"],
        "parent_bin": "below logS -3",
        "share_above": cell["salt_more_soluble"],
        "median_difference": cell["median"],
        "logS": round(-4.2 + cell["median"], 2),
        "low": round(-4.2 + cell["q1"], 2),
        "high": round(-4.2 + cell["q3"], 2),
    }
    assert estimate["low"] <= estimate["logS"] <= estimate["high"]
    assert binned.endswith(
        f"For this salt as given that suggests logS about {estimate['logS']:.1f} (the middle "
        f"half of such salts: {estimate['low']:.1f} to {estimate['high']:.1f})."
    )
    # no logS among the outputs (another checkpoint, or none given): the kind's own figures,
    # and no estimate
    for outputs in (None, [{"label": "logD", "unit": "", "value": -4.2}]):
        overall = salts.parent_note(note, "C7H6O2", outputs)
        assert f"Of {table['all']['n']} sodium" in overall and "whose parent" not in overall
        assert "suggests" not in overall
        assert salts.estimate_for(note, outputs) == {
            "kind": "alkali",
            "n": table["all"]["n"],
            "parent_bin": "",
            "share_above": table["all"]["salt_more_soluble"],
            "median_difference": table["all"]["median"],
        }
    # not a salt, or a hydrate: nothing to estimate
    assert salts.estimate_for("", logs) is None
    assert salts.estimate_for("Kept the largest organic fragment; removed O.", logs) is None


def test_a_thin_bin_falls_back_to_the_kinds_figures(monkeypatch):
    thin = salts.gaps() | {"kinds": dict(salts.gaps()["kinds"])}
    metal = thin["kinds"]["metal"]
    thin["kinds"]["metal"] = metal | {"bins": [metal["bins"][0] | {"n": 3}, *metal["bins"][1:]]}
    monkeypatch.setattr(salts, "gaps", lambda: thin)
    low = salts.solubility_sentence("metal", -5.0)
    assert low.startswith(f"Of {metal['all']['n']} salts of polyvalent") and "whose" not in low
    high = salts.solubility_sentence("metal", 0.5)
    assert f"Of {metal['bins'][2]['n']} salts" in high and "at logS -1 or above" in high


def test_a_hydrate_is_the_compound_itself():
    note = salts.parent_note("Kept the largest organic fragment; removed O.", "C7H6O2")
    assert "Water of crystallisation is not part of the prediction" in note
    assert "behave very differently" not in note and "AqSolDB" not in note


def test_salts_of_a_soluble_parent_and_of_a_poor_one_read_differently():
    """What the measurement found, as the note says it: an alkali salt of a sparingly soluble
    acid is nearly always more soluble; a metal salt of a soluble acid nearly never."""
    kinds = salts.gaps()["kinds"]
    assert kinds["alkali"]["bins"][0]["salt_more_soluble"] > 0.85
    assert kinds["alkali"]["bins"][0]["median"] > 2
    assert kinds["metal"]["bins"][2]["salt_more_soluble"] < 0.15
    assert kinds["metal"]["bins"][2]["median"] < -1


def test_a_batch_rows_input_gets_the_same_note_and_estimate():
    logs = [{"label": "Aqueous solubility (logS)", "unit": "log(mol/L)", "value": -1.7}]
    text = "[Na+].[O-]C(=O)c1ccccc1"
    note = parse_smiles(text, max_chars=1000).standardisation_note
    assert salts.parent_note_for_input(text, outputs=logs) == salts.parent_note(
        note, "C7H6O2", logs
    )
    assert salts.estimate_for_input(text, logs) == salts.estimate_for(note, logs)
    assert salts.estimate_for_input("OC(=O)c1ccccc1", logs) is None
    assert salts.parent_note_for_input("OC(=O)c1ccccc1", outputs=logs) == ""


@pytest.mark.slow
def test_the_shipped_figures_are_what_the_bench_measures_on_the_shipped_model(predictor):
    """chemreport/salt_gaps.json against bench/bench_salts.py run now on the shipped model: a
    new checkpoint needs `python bench/bench_salts.py --write`."""
    spec = importlib.util.spec_from_file_location("bench_salts", ROOT / "bench/bench_salts.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    measured = bench.table(bench.measure(predictor))
    shipped = salts.gaps()
    assert shipped["bins"] == list(salts.BINS) == measured["bins"]
    assert shipped["model"] == measured["model"]
    assert shipped["kinds"].keys() == measured["kinds"].keys()
    for name, figures in shipped["kinds"].items():
        cells = [figures["all"], *figures["bins"]]
        again = [measured["kinds"][name]["all"], *measured["kinds"][name]["bins"]]
        for cell, now in zip(cells, again, strict=True):
            assert cell["n"] == now["n"], name
            for key in ("salt_more_soluble", "median", "q1", "q3"):
                assert cell[key] == pytest.approx(now[key], abs=0.011), (name, key)
