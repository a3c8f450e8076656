"""What a value means for a salt or mixture: the prediction is for the parent compound.

Standardisation (chemcore.standardise) keeps the largest organic fragment and neutralises it,
because the model is trained on neutral parent compounds; counter-ions, water and other
companions are removed, and `chemistry.ParsedMolecule.standardisation_note` says which
("... removed [Na+]."). A salt as given can behave very differently from its parent, and the
page, every export and the API say so in the same words (`parent_note`), with which way a
salt's measured solubility lies from its parent's predicted logS: that depends on what was
removed and on how soluble the parent is, measured on AqSolDB's salts (`salt_gaps.json`,
written by bench/bench_salts.py --write).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

# chemistry.ParsedMolecule.standardisation_note ends "removed <SMILES>, <SMILES>." (tested).
_REMOVED = re.compile(r"removed (?P<removed>.+?)\.?$")

GAPS_FILE = Path(__file__).with_name("salt_gaps.json")


def removed_fragments(standardisation_note: str | None) -> list[str]:
    """The fragments a stored standardisation note says were removed ([] when none)."""
    found = _REMOVED.search(standardisation_note or "")
    return [part.strip() for part in found["removed"].split(", ")] if found else []


# Atoms that are not metals (for `salt_kind`): everything else in a removed fragment is one.
_NON_METALS = frozenset("H He B C N O F Ne Si P S Cl Ar As Se Br Kr Te I Xe At Rn".split())
_ALKALI = frozenset("Li Na K Rb Cs".split())

# What was removed (`salt_kind`'s values), as the note names salts of that kind.
KINDS = {
    "water": "hydrates (water removed only)",
    "alkali": "sodium, potassium, lithium or ammonium salts of acids",
    "metal": "salts of polyvalent or transition metals (calcium, zinc, copper ...)",
    "acid": "salts of bases with inorganic acids (hydrochlorides, sulfates ...)",
    "organic": "salts with organic counter-ions or mixtures",
}
# Bins of the parent's predicted logS, by their upper bounds (the last is open): a salt's gain
# over its parent is large for a sparingly soluble parent and near nothing for a soluble one.
BINS = (-3.0, -1.0)
MIN_CELL = 20  # fewer measured salts in a bin than this: the kind's overall figures are said


@lru_cache(maxsize=1024)
def _elements(fragment: str) -> frozenset[str]:
    from rdkit import Chem

    mol = Chem.MolFromSmiles(fragment, sanitize=False)
    return frozenset(a.GetSymbol() for a in mol.GetAtoms()) if mol is not None else frozenset()


def salt_kind(removed: list[str]) -> str:
    """What standardisation removed, as one of `KINDS` ("" when nothing was)."""
    if not removed:
        return ""
    if all(f in ("O", "[OH2]") for f in removed):
        return "water"
    elements = frozenset().union(*(_elements(f) for f in removed))
    if elements - _NON_METALS - _ALKALI:
        return "metal"
    if elements & _ALKALI or "[NH4+]" in removed:
        return "alkali"
    if "C" in elements:
        return "organic"
    return "acid"


def bin_of(logs: float) -> int:
    """Index of the `BINS` bin a parent's predicted logS falls in."""
    return sum(logs >= bound for bound in BINS)


def bin_words(index: int) -> str:
    if index == 0:
        return f"below logS {BINS[0]:g}"
    if index == len(BINS):
        return f"at logS {BINS[-1]:g} or above"
    return f"between logS {BINS[index - 1]:g} and {BINS[index]:g}"


@lru_cache(maxsize=1)
def gaps() -> dict:
    """The measured table (`salt_gaps.json`): per kind, overall and per bin, how many salts, the
    share measured above the parent's predicted logS and the median difference."""
    return json.loads(GAPS_FILE.read_text(encoding="utf-8"))


def page_table(model_version: str = "") -> dict:
    """`gaps()` as the model page shows it: a row per kind, a cell per bin of the parent's
    predicted logS and one for all ("median difference, share above (n)"), and whether the
    figures were measured with the model now served (`model_version`, as the table names it:
    "3.4.0 (b45ea861f832)")."""
    table = gaps()
    bins = [bin_words(i) for i in range(len(table["bins"]) + 1)]
    rows = []
    for kind, figures in table["kinds"].items():
        cells = [
            f"{c['median']:+.2f}, {round(100 * c['salt_more_soluble'])} % above ({c['n']})"
            if c.get("n")
            else "—"
            for c in (*figures["bins"], figures["all"])
        ]
        rows.append({"kind": KINDS[kind], "cells": cells})
    return {
        "columns": [f"parent {words}" for words in bins] + ["all"],
        "rows": rows,
        "measured_with": table["model"],
        "this_model": table["model"] == model_version,
    }


def _logs_of(outputs) -> float | None:
    from chemreport.units import is_logs

    for output in outputs or ():
        if isinstance(output, dict) and is_logs(output) and output.get("value") is not None:
            return float(output["value"])
    return None


def salt_estimate(kind: str, logs: float | None, table: dict | None = None) -> dict | None:
    """How salts of this kind measured against their parent's predicted logS (`gaps()`, or
    `table`), in the parent's bin when `logs` is known and the bin holds `MIN_CELL` salts or
    more, else over all of them; with `logs`, what that suggests for this salt as given: the
    parent's logS plus the median difference, and the middle half of such salts (the
    quartiles). None for a hydrate, an unknown kind or no table."""
    if kind in ("", "water"):
        return None
    measured = (table or gaps())["kinds"].get(kind)
    if not measured:
        return None
    cell, where = measured["all"], ""
    if logs is not None:
        index = bin_of(logs)
        if measured["bins"][index]["n"] >= MIN_CELL:
            cell, where = measured["bins"][index], bin_words(index)
    found = {
        "kind": kind,
        "n": cell["n"],
        "parent_bin": where,  # "" when the kind's overall figures are used
        "share_above": cell["salt_more_soluble"],
        "median_difference": cell["median"],
    }
    if logs is not None:
        found |= {
            "logS": round(logs + cell["median"], 2),
            "low": round(logs + cell["q1"], 2),
            "high": round(logs + cell["q3"], 2),
        }
    return found


def solubility_sentence(kind: str, logs: float | None) -> str:
    """`salt_estimate` in words: the measured figures, and with `logs` the estimate for the
    salt as given."""
    if kind == "water":
        return (
            "Water of crystallisation is not part of the prediction; the values are for the "
            "compound itself."
        )
    found = salt_estimate(kind, logs)
    if found is None:
        return ""
    where = (
        f" whose parent this model predicts {found['parent_bin']}" if found["parent_bin"] else ""
    )
    share = round(100 * found["share_above"])
    sentence = (
        f"Of {found['n']} {KINDS[kind]} in AqSolDB{where}, {share} % measured more soluble "
        f"than the parent's predicted logS (median difference {found['median_difference']:+.1f} "
        "log units)."
    )
    if "logS" in found:
        sentence += (
            f" For this salt as given that suggests logS about {found['logS']:.1f} (the "
            f"middle half of such salts: {found['low']:.1f} to {found['high']:.1f})."
        )
    return sentence


def parent_note(standardisation_note: str | None, parent: str = "", outputs=None) -> str:
    """The sentence that goes with every value of a salt or mixture input ("" for others):
    what the values are for, and how the salt's own solubility measured against its parent's.

    `parent` names the compound predicted (its formula, say); `outputs`, the stored outputs,
    give the parent's logS for the measured figures of its bin."""
    removed = removed_fragments(standardisation_note)
    if not removed:
        return ""
    compound = f"the parent compound {parent}" if parent else "the parent compound"
    kind = salt_kind(removed)
    behaves = (
        "" if kind == "water" else " The salt or mixture as given can behave very differently."
    )
    sentence = solubility_sentence(kind, _logs_of(outputs))
    return (
        f"Values are for {compound} after removing {', '.join(removed)}: the model was "
        f"trained on neutral parent compounds.{behaves} {sentence}"
    ).strip()


def estimate_for(standardisation_note: str | None, outputs=None) -> dict | None:
    """`salt_estimate` for a stored prediction: its note says what was removed, its outputs
    give the parent's logS (None for anything but a salt or mixture)."""
    kind = salt_kind(removed_fragments(standardisation_note))
    return salt_estimate(kind, _logs_of(outputs))


@lru_cache(maxsize=512)
def _note_of_input(text: str) -> tuple[str, str] | None:
    """(standardisation note, formula) of a raw input with several fragments (a '.'); None
    for one fragment or an unreadable input, so a batch of single molecules costs nothing.
    Cached: a batch row's note and its `salt` field read the same input."""
    if "." not in (text or ""):
        return None
    from chemcore.chemistry import parse_smiles  # RDKit; parse errors mean no note

    try:
        parsed = parse_smiles(text, max_chars=10**6)
    except ValueError:
        return None
    return parsed.standardisation_note, parsed.formula


def parent_note_for_input(text: str, parent: str = "", outputs=None) -> str:
    """`parent_note` for a raw input (a batch row's SMILES)."""
    found = _note_of_input(text)
    return parent_note(found[0], parent or found[1], outputs) if found else ""


def estimate_for_input(text: str, outputs=None) -> dict | None:
    """`estimate_for` a raw input (a batch row's SMILES)."""
    found = _note_of_input(text)
    return estimate_for(found[0], outputs) if found else None
