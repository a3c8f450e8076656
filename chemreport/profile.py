"""The exact RDKit profile a chemist reads beside a prediction, computed once and stored.

Everything here is "computed (RDKit), exact": descriptors of the standardised molecule, not
model estimates. It is computed from the canonical SMILES (`profile_for_smiles`), so the
atom indices of structural alerts refer to the atoms of `canonical_smiles` in order, and
anyone can recompute it from the stored SMILES.

Rules stated on the page and in exports:
- Lipinski's rule of five (Lipinski et al., Adv. Drug Deliv. Rev. 23, 3 (1997)): MW ≤ 500,
  cLogP ≤ 5, H-bond donors ≤ 5 (NH + OH), acceptors ≤ 10 (N + O); poor oral absorption is
  more likely when two or more are broken. HBD/HBA are counted as Lipinski counted them
  (RDKit's `CalcNumLipinskiHBD`/`HBA`).
- Veber's rules (Veber et al., J. Med. Chem. 45, 2615 (2002)): ≤ 10 rotatable bonds and
  TPSA ≤ 140 Å².
Structural alerts come from RDKit's own FilterCatalog (PAINS A/B/C, Brenk, NIH), built once
per process; each alert carries the atoms of its (first) match.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from typing import NamedTuple

import numpy as np
from rdkit import Chem, DataStructs
from rdkit.Chem import QED, Crippen, Descriptors, rdMolDescriptors
from rdkit.Chem.FilterCatalog import FilterCatalog, FilterCatalogParams

PROFILE_VERSION = 1
LABEL = "computed (RDKit), exact"
ALERT_SETS = ("PAINS_A", "PAINS_B", "PAINS_C", "BRENK", "NIH")


class Rule(NamedTuple):
    key: str
    limit: float
    text: str


LIPINSKI = (
    Rule("mw", 500, "MW ≤ 500 g/mol"),
    Rule("clogp", 5, "cLogP ≤ 5"),
    Rule("hbd", 5, "H-bond donors ≤ 5"),
    Rule("hba", 10, "H-bond acceptors ≤ 10"),
)
VEBER = (
    Rule("rotatable_bonds", 10, "rotatable bonds ≤ 10"),
    Rule("tpsa", 140, "TPSA ≤ 140 Å²"),
)


class Field(NamedTuple):
    """One stored profile value: its key, what the page and CSV headers call it, unit, decimals."""

    key: str
    label: str
    unit: str
    decimals: int


FIELDS = (
    Field("mw", "Molecular weight", "g/mol", 2),
    Field("exact_mass", "Exact mass (monoisotopic)", "Da", 4),
    Field("clogp", "cLogP (Crippen)", "", 2),
    Field("tpsa", "TPSA", "Å²", 1),
    Field("hbd", "H-bond donors (NH + OH)", "", 0),
    Field("hba", "H-bond acceptors (N + O)", "", 0),
    Field("rotatable_bonds", "Rotatable bonds", "", 0),
    Field("aromatic_rings", "Aromatic rings", "", 0),
    Field("fraction_sp3", "Fraction sp3 carbons", "", 2),
    Field("qed", "QED (drug-likeness, 0–1)", "", 2),
    Field("stereocentres", "Stereocentres", "", 0),
    Field("unassigned_stereocentres", "Unassigned stereocentres", "", 0),
    Field("lipinski_violations", "Lipinski violations", "", 0),
    Field("veber_violations", "Veber violations", "", 0),
)

_catalog: FilterCatalog | None = None
_catalog_lock = threading.RLock()  # screen() builds the catalog under it
_screen: Screen | None = None

# Bits of RDKit's pattern fingerprint: a molecule can match a query only if it has every bit the
# query has, so most of the 765 filters are skipped without a substructure search.
SCREEN_BITS = 2048


def filter_catalog() -> FilterCatalog:
    """PAINS A/B/C, Brenk and NIH in one catalog, built on first use, once per process."""
    global _catalog
    if _catalog is None:
        with _catalog_lock:
            if _catalog is None:
                params = FilterCatalogParams()
                for name in ALERT_SETS:
                    params.AddCatalog(getattr(FilterCatalogParams.FilterCatalogs, name))
                _catalog = FilterCatalog(params)
    return _catalog


def _pattern_words(mol: Chem.Mol) -> np.ndarray:
    """RDKit's pattern fingerprint of a molecule or query, as 64-bit words."""
    fingerprint = Chem.PatternFingerprint(mol, SCREEN_BITS)
    return np.frombuffer(DataStructs.BitVectToBinaryText(fingerprint), dtype=np.uint64)


def entry_query(entry) -> Chem.Mol | None:
    """The query molecule inside a catalog entry (read from its serialised form, which holds
    the description, the pickled query's length, then the pickle), or None if it cannot be read."""
    blob, name = entry.Serialize(), entry.GetDescription().encode()
    found = re.search(rb" " + re.escape(name) + rb" (\d+) ", blob)
    if found is None:
        return None
    try:
        query = Chem.Mol(blob[found.end() : found.end() + int(found.group(1))])
    except Exception:  # not a pickled molecule: this entry is searched every time
        return None
    return query if query.GetNumAtoms() else None


class Screen:
    """The catalog's entries with each one's pattern-fingerprint words. An entry whose query
    could not be read gets no words (all zero), so it is always searched: the screen can only
    skip entries that cannot match, never add one."""

    def __init__(self, catalog: FilterCatalog) -> None:
        self.entries = [catalog.GetEntryWithIdx(i) for i in range(catalog.GetNumEntries())]
        words = SCREEN_BITS // 64
        queries = [entry_query(entry) for entry in self.entries]
        self.words = np.stack(
            [
                _pattern_words(q) if q is not None else np.zeros(words, dtype=np.uint64)
                for q in queries
            ]
        )
        self.unscreened = sum(q is None for q in queries)

    def candidates(self, mol: Chem.Mol) -> list:
        """The entries `mol` may match, in catalog order."""
        missing = ~_pattern_words(mol)
        keep = ~(self.words & missing).any(axis=1)
        return [self.entries[i] for i in np.flatnonzero(keep)]


def screen() -> Screen:
    """The screened catalog, built once per process."""
    global _screen
    if _screen is None:
        with _catalog_lock:
            if _screen is None:
                _screen = Screen(filter_catalog())
    return _screen


def _alert(entry, mol: Chem.Mol) -> dict:
    atoms = sorted(
        {pair.target for match in entry.GetFilterMatches(mol) for pair in match.atomPairs}
    )
    return {"set": entry.GetProp("FilterSet"), "name": entry.GetDescription(), "atoms": atoms}


def structural_alerts(mol: Chem.Mol) -> list[dict]:
    """[{"set": "PAINS_A", "name": "ene_rhod_A(235)", "atoms": [mol atom indices]}, ...], in
    catalog order: what `FilterCatalog.GetMatches` finds, searching only the entries the
    pattern-fingerprint screen leaves (about a fifth; tests compare the two)."""
    return [_alert(entry, mol) for entry in screen().candidates(mol) if entry.HasFilterMatch(mol)]


def structural_alerts_unscreened(mol: Chem.Mol) -> list[dict]:
    """The same from the whole catalog (what the screen is checked against)."""
    return [_alert(entry, mol) for entry in filter_catalog().GetMatches(mol)]


def _broken(values: dict, rules: tuple[Rule, ...]) -> list[str]:
    return [rule.key for rule in rules if values[rule.key] > rule.limit]


def compute_profile(mol: Chem.Mol) -> dict:
    """The stored profile of `mol` (JSON-ready: plain floats, ints, strings and lists)."""
    centres = Chem.FindMolChiralCenters(mol, includeUnassigned=True, useLegacyImplementation=False)
    values = {
        "mw": Descriptors.MolWt(mol),
        "exact_mass": Descriptors.ExactMolWt(mol),
        "clogp": Crippen.MolLogP(mol),
        "tpsa": rdMolDescriptors.CalcTPSA(mol),
        "hbd": rdMolDescriptors.CalcNumLipinskiHBD(mol),
        "hba": rdMolDescriptors.CalcNumLipinskiHBA(mol),
        "rotatable_bonds": rdMolDescriptors.CalcNumRotatableBonds(mol),
        "aromatic_rings": rdMolDescriptors.CalcNumAromaticRings(mol),
        "fraction_sp3": rdMolDescriptors.CalcFractionCSP3(mol),
        "qed": QED.qed(mol),
        "stereocentres": len(centres),
        "unassigned_stereocentres": sum(1 for _, label in centres if label == "?"),
    }
    lipinski, veber = _broken(values, LIPINSKI), _broken(values, VEBER)
    return {
        "version": PROFILE_VERSION,
        **values,
        "lipinski_violations": len(lipinski),
        "lipinski_broken": lipinski,
        "veber_violations": len(veber),
        "veber_broken": veber,
        "alerts": structural_alerts(mol),
    }


def profile_for_smiles(smiles: str) -> dict:
    """The profile of a stored canonical SMILES ({} if RDKit cannot read it)."""
    mol = Chem.MolFromSmiles(smiles) if smiles else None
    return compute_profile(mol) if mol is not None else {}


HELPER_NICENESS = 10


def start_helper(parent: int) -> None:
    """In a helper process of the batch worker (batches/worker/profiles.py): run niced (the
    profiles are background work: predictions and web requests come first), and exit once
    `parent` (the worker) is gone, even killed (SIGKILL closes no pipe the helper waits on).

    Ctrl-C in the terminal of `./scripts/run.sh` reaches the whole process group: the helper
    ignores it (no KeyboardInterrupt traceback); the worker shuts down, and the helper follows."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.nice(HELPER_NICENESS)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="exit-with-parent").start()


# In a batch's helper process: the molecules read for their descriptors, kept until their
# profiles are asked for (the pieces of one chunk come in that order), so each is parsed once
# and RDKit's cached parts (Crippen contributions, ring information) are computed once.
_KEPT: dict[str, Chem.Mol] = {}
KEPT_MOLECULES = 2048


def descriptor_rows(smiles: list[str], names: list[str]):
    """`chemcore.descriptors.from_smiles` of these SMILES (the same numbers), keeping each
    molecule for `profiles_for_smiles`."""
    from chemcore import descriptors

    mols = [Chem.MolFromSmiles(text) for text in smiles]
    for text, mol in zip(smiles, mols, strict=True):
        if mol is not None:
            _KEPT[text] = mol
    while len(_KEPT) > KEPT_MOLECULES:  # pieces whose profiles were never asked for
        del _KEPT[next(iter(_KEPT))]
    return descriptors.compute(mols, names)


def profiles_for_smiles(smiles: list[str]) -> list[dict]:
    """`profile_for_smiles` of each, in order: what a batch's helper process computes
    (batches/worker/profiles.py); this module imports RDKit only, so it starts fast."""
    found = []
    for text in smiles:
        mol = _KEPT.pop(text, None)
        found.append(compute_profile(mol) if mol is not None else profile_for_smiles(text))
    return found


def alert_atoms(profile: dict | None) -> list[int]:
    """Every atom any alert matched, sorted (what the highlighted drawing marks)."""
    return sorted(
        {atom for alert in (profile or {}).get("alerts") or [] for atom in alert["atoms"]}
    )


def rule_texts(rules: tuple[Rule, ...], broken: list[str] | None = None) -> list[str]:
    """The rules as sentences; only those named in `broken` when it is given."""
    return [rule.text for rule in rules if broken is None or rule.key in broken]
