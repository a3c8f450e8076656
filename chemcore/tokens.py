"""What the network reads for a SMILES whose tokens it never saw (Django-free, no RDKit).

A stereo, isotope or atom-map variant of a known atom (``[N@]``, ``[13CH3]``, ``[P@@]``) is
read as the nearest token in the vocabulary with the same element and charge: first without
stereo, isotope and map number, then (uncharged organic-subset atoms) the bare symbol, then
with another hydrogen count. Elements or charges the model never saw (metals,
``[Na+]``) have no such token and stay unknown, so the caller still refuses them.
Training tokenises its molecules unchanged (the vocabulary holds every token they contain), so
this only ever changes what serving reads for new input.
"""

from __future__ import annotations

import re

_BRACKET = re.compile(
    r"^\[(?P<isotope>\d+)?(?P<symbol>[A-Z][a-z]?|[a-z][a-z]?|\*)(?P<chiral>@@|@(?:TH|AL|SP|TB|OH)?\d*)?"
    r"(?P<h>H\d*)?(?P<charge>[+-]\d*|[+-]{2,})?(?P<map>:\d+)?\]$"
)
ORGANIC_SUBSET = frozenset("B C N O P S F Cl Br I b c n o p s".split())
# Not metals: non-metals, noble gases, metalloids B Si As Se Te (aromatic forms lower-case).
NON_METALS = frozenset(
    "H He B C N O F Ne Si P S Cl Ar As Se Br Kr Te I Xe At Rn b c n o p s as se te si".split()
)


def is_metal_token(token: str) -> bool:
    """A bracket atom of a metal ([Pb], [Hg+2], [Na+]): the site never serves these, even where
    a training molecule (an AqSolDB organometallic) put the token in the vocabulary."""
    found = _BRACKET.match(token)
    return bool(found) and found["symbol"] not in NON_METALS and found["symbol"] != "*"


def candidates(token: str) -> list[str]:
    """Known-token stand-ins for one bracket atom, most faithful first (empty: none)."""
    found = _BRACKET.match(token)
    if not found:
        return []
    symbol, charge = found["symbol"], found["charge"] or ""
    out = [f"[{symbol}{found['h'] or ''}{charge}]"]
    if not charge and symbol in ORGANIC_SUBSET:
        out.append(symbol)
    out += [f"[{symbol}{h}{charge}]" for h in ("", "H", "H2", "H3", "H4")]
    return [c for c in dict.fromkeys(out) if c != token]


def readable(pieces: list[str], vocab) -> tuple[list[str], list[tuple[str, str]], list[str]]:
    """(pieces with stand-ins, [(unknown piece, stand-in)] each once, still-unknown pieces each
    once). ``vocab`` is any container of the known tokens."""
    out, mapped, unknown = [], {}, []
    for piece in pieces:
        if piece in vocab:
            out.append(piece)
            continue
        stand_in = next((c for c in candidates(piece) if c in vocab), None)
        if stand_in is None:
            if piece not in unknown:
                unknown.append(piece)
            out.append(piece)
        else:
            mapped.setdefault(piece, stand_in)
            out.append(stand_in)
    return out, list(mapped.items()), unknown
