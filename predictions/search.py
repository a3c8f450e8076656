"""Structure-aware search over stored molecules: exact, substructure and similarity.

Works on any queryset of records with `canonical_smiles` and the fingerprint fields
(`Prediction`, `BatchRow`), so the caller decides what may be seen (the gallery passes
`listed()` only, a batch page its own rows). Fingerprints are stored packed when a record
is made; a search reads them with `values_list` (no raw SQL: SQLite and MongoDB alike)
and compares them with numpy, 64 bits at a time.

- exact: a query that parses as SMILES is standardised like a prediction and matched on the
  canonical SMILES (plus the plain text search on names and SMILES text);
- substructure: SMILES (read as a molecule, so aromaticity is perceived) else SMARTS; the
  stored pattern fingerprints screen out what cannot match, RDKit checks the survivors;
- similar: Tanimoto on Morgan radius 2, 2,048 bits, above a threshold, most similar first;
  the popcount bound (Swamidass & Baldi) skips molecules that cannot reach the threshold.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db.models import Max, Q, QuerySet
from rdkit import Chem, DataStructs

from chemcore import chemistry
from chemreport import bounded, rendering

log = logging.getLogger(__name__)

FP_BYTES = 256  # 2,048 bits
MODES = {"": "Name or SMILES", "substructure": "Substructure", "similar": "Similar to"}
STRUCTURE_MODES = ("substructure", "similar")
# A substructure search stops after this many matches, or after checking this many screened
# candidates with RDKit, and says so: the first pages are what a person reads.
MAX_MATCHES = 1000
MAX_CHECKS = 20000


class SearchError(ValueError):
    """A query that cannot be searched; `str()` says why, for the page."""


def _packed(fp: DataStructs.ExplicitBitVect) -> bytes:
    bits = np.zeros((fp.GetNumBits(),), dtype=np.uint8)
    DataStructs.ConvertToNumpyArray(fp, bits)
    return np.packbits(bits).tobytes()


def _pattern(mol: Chem.Mol) -> DataStructs.ExplicitBitVect:
    return Chem.PatternFingerprint(mol, fpSize=FP_BYTES * 8)


def fingerprint_fields(mol: Chem.Mol) -> dict:
    """The stored search fields of a (standardised) molecule, as model field values."""
    morgan = chemistry.fingerprint(mol)
    return {
        "morgan_fp": _packed(morgan),
        "morgan_bits": morgan.GetNumOnBits(),
        "pattern_fp": _packed(_pattern(mol)),
    }


def fingerprint_fields_of(smiles: str) -> dict:
    """`fingerprint_fields` of a stored canonical SMILES ({} if RDKit no longer reads it)."""
    mol = Chem.MolFromSmiles(smiles)
    return fingerprint_fields(mol) if mol is not None else {}


def _matrix(blobs) -> np.ndarray:
    """Packed fingerprints as an (n, 32) uint64 array."""
    return np.frombuffer(b"".join(blobs), dtype=np.uint64).reshape(len(blobs), FP_BYTES // 8)


def canonical_or_none(text: str) -> str | None:
    """The site's canonical SMILES for `text`, or None when it is not a SMILES we read."""
    try:
        return chemistry.parse_smiles(text, max_chars=settings.SMILES_MAX_CHARS).canonical_smiles
    except chemistry.InvalidSmiles:
        return None


def text_or_exact(query: str, text_fields: tuple[str, ...]) -> Q:
    """Text containment in `text_fields`, or the exact standardised structure."""
    condition = Q()
    for name in text_fields:
        condition |= Q(**{f"{name}__icontains": query})
    canonical = canonical_or_none(query)
    if canonical is not None:
        condition |= Q(canonical_smiles=canonical)
    return condition


def substructure_query(text: str) -> Chem.Mol:
    """The query molecule: SMILES first (so `C1=CC=CC=C1` matches aromatic rings), else SMARTS.

    A SMILES that leaves atoms with radicals (`[#7]`, `[C]`) is meant as SMARTS: as a
    molecule it would match only radicals.
    """
    text = text.strip()
    if not text or len(text) > settings.SMILES_MAX_CHARS or not text.isascii():
        raise SearchError("Type a SMILES or SMARTS pattern (ASCII, one line) to search for.")
    mol, _ = chemistry.read_with_reason(Chem.MolFromSmiles, text)
    if mol is not None and any(atom.GetNumRadicalElectrons() for atom in mol.GetAtoms()):
        mol = None
    if mol is None or mol.GetNumAtoms() == 0:
        mol, reason = chemistry.read_with_reason(Chem.MolFromSmarts, text)
        if mol is None or mol.GetNumAtoms() == 0:
            reason = reason or "it contains no atoms"
            raise SearchError(f"Not a valid SMILES or SMARTS pattern {text!r}: {reason}.")
    return mol


def similarity_query(text: str) -> DataStructs.ExplicitBitVect:
    """The Morgan fingerprint of the standardised query molecule."""
    try:
        parsed = chemistry.parse_smiles(text, max_chars=settings.SMILES_MAX_CHARS)
    except chemistry.InvalidSmiles as error:
        raise SearchError(f"Similarity search needs one molecule as SMILES. {error}") from None
    return chemistry.fingerprint(parsed.mol)


@dataclass
class Hits:
    """Matching primary keys in display order, with similarities when they apply."""

    pks: list
    scores: dict = field(default_factory=dict)
    truncated: str = ""


def substructure_hits(
    candidates: QuerySet, pattern: Chem.Mol, *, budget: float | None = None
) -> Hits:
    """Records of `candidates` (in their order) containing `pattern`.

    RDKit checks the candidates that pass the fingerprint screen in a helper process within
    `budget` seconds (settings.SEARCH_BUDGET_SECONDS): one match check of a long `*~*` path
    against a dense cage can run for minutes. When the budget runs out, the hits found so far
    are returned and `truncated` says how many candidates were checked."""
    rows = list(
        candidates.filter(pattern_fp__isnull=False).values_list(
            "pk", "pattern_fp", "canonical_smiles"
        )
    )
    if not rows:
        return Hits([])
    screen = np.frombuffer(_packed(_pattern(pattern)), dtype=np.uint64)
    stored = _matrix([r[1] for r in rows])
    survivors = np.flatnonzero(~np.any(screen & ~stored, axis=1))
    if not len(survivors):
        return Hits([])
    budget = settings.SEARCH_BUDGET_SECONDS if budget is None else budget
    smiles = [rows[index][2] for index in survivors[:MAX_CHECKS]]
    truncated = ""
    try:
        checked, found, finished = bounded.screen(
            pattern.ToBinary(), smiles, MAX_MATCHES, budget=budget
        )
    except bounded.HelperError as error:
        log.warning("Substructure search for %s failed: %s", Chem.MolToSmarts(pattern), error)
        raise SearchError(f"RDKit could not search for this pattern ({error}).") from None
    if not finished:
        left = len(survivors) - checked
        truncated = (
            f"The search ran out of its {budget:g} s time budget after checking {checked:,} of "
            f"{len(survivors):,} candidate structures ({len(found):,} matching); {left:,} "
            "were not searched. A more specific pattern searches faster."
        )
    if not truncated and len(found) >= MAX_MATCHES:
        truncated = f"Showing the first {MAX_MATCHES:,} matches."
    elif not truncated and len(survivors) > MAX_CHECKS:
        truncated = f"Stopped after checking {MAX_CHECKS:,} candidates; narrow the pattern."
    return Hits([rows[survivors[index]][0] for index in found], truncated=truncated)


@dataclass
class _Fingerprints:
    """Keys, packed Morgan fingerprints and their popcounts of one candidate set."""

    pks: tuple
    matrix: np.ndarray
    counts: np.ndarray
    stamp: tuple = ()
    read_at: float = 0.0


def _read_fingerprints(candidates: QuerySet) -> _Fingerprints:
    rows = list(candidates.values_list("pk", "morgan_fp"))
    if not rows:
        return _Fingerprints((), np.zeros((0, FP_BYTES // 8), np.uint64), np.zeros(0, np.int64))
    pks, blobs = zip(*rows)
    matrix = _matrix(blobs)
    return _Fingerprints(pks, matrix, np.bitwise_count(matrix).sum(axis=1, dtype=np.int64))


# The gallery's candidates, per filter, kept in this process: reading 100,000 fingerprints
# costs far more than comparing them. A fingerprint never changes for a key; the set of
# candidates is checked on every search against a stamp of two indexed maxima (latest
# publication, latest change: a new, published, hidden or featured prediction moves one; so
# does a batch storing molecules, which then costs a re-read) and read again after
# CACHE_SECONDS whatever the stamp says. The page's records are always read through the
# caller's queryset, so even a stale entry cannot show what is not listed.
CACHE_SECONDS = 60
_cache: dict[tuple, _Fingerprints] = {}
_cache_lock = threading.Lock()


def _listing_stamp(candidates: QuerySet) -> tuple:
    """Latest publication and latest change of any prediction: two index look-ups."""
    found = candidates.model.objects.aggregate(p=Max("published_at"), u=Max("updated_at"))
    return (found["p"], found["u"])


def _gallery_fingerprints(candidates: QuerySet, key: tuple) -> _Fingerprints:
    stamp = _listing_stamp(candidates)
    now = time.monotonic()
    with _cache_lock:
        cached = _cache.get(key)
    if cached is not None and cached.stamp == stamp and now - cached.read_at < CACHE_SECONDS:
        return cached
    fresh = _read_fingerprints(candidates.filter(morgan_fp__isnull=False))
    fresh.stamp, fresh.read_at = stamp, now
    with _cache_lock:
        if len(_cache) >= 8:  # a few filters at most; each entry ~26 MB per 100,000
            _cache.clear()
        _cache[key] = fresh
    return fresh


def similar_hits(
    candidates: QuerySet,
    query: DataStructs.ExplicitBitVect,
    threshold: float,
    *,
    cache_key: tuple | None = None,
) -> Hits:
    """Records with Tanimoto >= threshold to `query`, most similar first (ties in the order read).

    Only popcounts in [a*t, a/t] can reach t (Swamidass & Baldi): without `cache_key` only
    those rows are read (the database asked for no order: SQLite would sort every candidate);
    with it (Prediction candidates) the process's cached fingerprints are screened instead."""
    bits = query.GetNumOnBits()
    threshold = min(max(threshold, 0.01), 1.0)
    low, high = int(np.ceil(bits * threshold - 1e-9)), int(bits / threshold + 1e-9)
    candidates = candidates.order_by()
    if cache_key is not None:  # in memory: comparing all costs less than selecting some
        found = _gallery_fingerprints(candidates, cache_key)
        stored, counts, pks = found.matrix, found.counts, found.pks
    else:
        found = _read_fingerprints(candidates.filter(morgan_bits__gte=low, morgan_bits__lte=high))
        stored, counts, pks = found.matrix, found.counts, found.pks
    if not len(pks) or not bits:
        return Hits([])
    common = np.bitwise_count(stored & np.frombuffer(_packed(query), dtype=np.uint64)).sum(axis=1)
    similarity = common / (bits + counts - common)
    keep = np.flatnonzero(similarity >= threshold - 1e-9)
    order = keep[np.argsort(-similarity[keep], kind="stable")]
    return Hits([pks[i] for i in order], {pks[i]: float(similarity[i]) for i in order})


# Matches drawn on a result's picture: its first ones are enough to see where the pattern is.
HIGHLIGHT_MATCHES = 100


def highlight_svg(
    smiles: str,
    pattern: Chem.Mol,
    size: tuple[int, int] = (200, 150),
    *,
    budget: float | None = None,
) -> str:
    """A small drawing of `smiles` with the atoms and bonds of `pattern`'s matches marked;
    "" when it cannot be drawn within `budget` (the page then shows the stored picture).

    The matches are found in a helper process (within the search budget) and the layout is
    budgeted (rendering); a molecule RDKit cannot draw highlighted is drawn plain."""
    budget = settings.SEARCH_BUDGET_SECONDS if budget is None else budget
    mol = Chem.MolFromSmiles(smiles)
    if mol is None or budget <= 0:
        return ""
    started = time.monotonic()
    try:
        atoms = bounded.call(
            "highlight", smiles, pattern.ToBinary(), HIGHLIGHT_MATCHES, budget=budget
        )
    except (bounded.OverBudget, bounded.HelperError) as error:
        log.warning("Matches of %s in %s not drawn: %r", Chem.MolToSmarts(pattern), smiles, error)
        atoms = []
    svg = rendering.molecule_svg_highlighted(
        mol,
        atoms,
        size,
        colour=None,
        clear_background=False,
        budget=budget - (time.monotonic() - started),
        placeholder=False,
    )
    return svg[svg.index("<svg") :] if svg else ""  # inline in the page: no XML declaration


def search_page(
    candidates: QuerySet,
    *,
    query: str,
    mode: str,
    threshold: float,
    text_fields: tuple[str, ...],
    per_page: int,
    number=None,
    cache_key: tuple | None = None,
) -> tuple[Page, str]:
    """One page of `candidates` matching the search, and a note when results were cut short.

    Raises SearchError for a query the mode cannot use. `cache_key` names the candidate set
    for the similarity cache (Prediction candidates only; see `similar_hits`). Records on a
    substructure page carry `search_svg` (the match highlighted), on a similarity page
    `search_similarity`.
    """
    if not query or mode not in STRUCTURE_MODES:
        if query:
            candidates = candidates.filter(text_or_exact(query, text_fields))
        return Paginator(candidates, per_page).get_page(number), ""
    if mode == "substructure":
        pattern = substructure_query(query)
        hits = substructure_hits(candidates, pattern)
    else:
        hits = similar_hits(candidates, similarity_query(query), threshold, cache_key=cache_key)
    page = Paginator(hits.pks, per_page).get_page(number)
    shown = {record.pk: record for record in candidates.filter(pk__in=list(page.object_list))}
    records = [shown[pk] for pk in page.object_list if pk in shown]
    # The page's highlighted pictures share one budget; past it, the stored pictures are shown.
    deadline = time.monotonic() + settings.SEARCH_BUDGET_SECONDS
    for record in records:
        if mode == "substructure":
            left = deadline - time.monotonic()
            record.search_svg = highlight_svg(record.canonical_smiles, pattern, budget=left)
        else:
            record.search_similarity = hits.scores[record.pk]
    page.object_list = records
    page.search_note = hits.truncated  # also on the page, for callers that keep only it
    return page, hits.truncated
