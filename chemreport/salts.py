"""What a value means for a salt or mixture: the prediction is for the parent compound.

Standardisation (chemcore.standardise) keeps the largest organic fragment and neutralises it,
because the model is trained on neutral parent compounds; counter-ions, water and other
companions are removed, and `chemistry.ParsedMolecule.standardisation_note` says which
("... removed [Na+]."). A salt as given can behave very differently from its parent, and the
page, every export and the API say so in the same words (`parent_note`).
"""

from __future__ import annotations

import re

# chemistry.ParsedMolecule.standardisation_note ends "removed <SMILES>, <SMILES>." (tested).
_REMOVED = re.compile(r"removed (?P<removed>.+?)\.?$")


def removed_fragments(standardisation_note: str | None) -> list[str]:
    """The fragments a stored standardisation note says were removed ([] when none)."""
    found = _REMOVED.search(standardisation_note or "")
    return [part.strip() for part in found["removed"].split(", ")] if found else []


def parent_note(standardisation_note: str | None, parent: str = "") -> str:
    """The sentence that goes with every value of a salt or mixture input ("" for others).

    `parent` names the compound predicted (its formula, say)."""
    removed = removed_fragments(standardisation_note)
    if not removed:
        return ""
    compound = f"the parent compound {parent}" if parent else "the parent compound"
    return (
        f"Values are for {compound} after removing {', '.join(removed)}: the model was "
        "trained on neutral parent compounds. The salt or mixture as given can behave very "
        "differently; a salt can be much more soluble (a sodium salt of an acid often by "
        "orders of magnitude)."
    )


def parent_note_for_input(text: str, parent: str = "") -> str:
    """`parent_note` for a raw input (a batch row's SMILES), parsed again only when it has
    several fragments (a '.'), so a batch of single molecules costs nothing here."""
    if "." not in (text or ""):
        return ""
    from chemcore.chemistry import parse_smiles  # RDKit; parse errors mean no note

    try:
        parsed = parse_smiles(text, max_chars=10**6)
    except ValueError:
        return ""
    return parent_note(parsed.standardisation_note, parent or parsed.formula)
