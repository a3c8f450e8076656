"""Structure-aware search over stored molecules: exact, substructure and similarity.

Works on any queryset of records with `canonical_smiles` and the fingerprint fields
(`Prediction`, `BatchRow`), so the caller decides what may be seen (the gallery passes
`listed()` only, a batch page its own rows). Fingerprints are stored packed when a record
is made; a search reads them with `values_list` (no raw SQL: SQLite and MongoDB alike)
and compares them with numpy, 64 bits at a time (the chemistry: chemreport.matching).

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
from chemreport import bounded, matching
from chemreport.matching import SearchError

log = logging.getLogger(__name__)

MODES = {"": "Name or SMILES", "substructure": "Substructure", "similar": "Similar to"}
STRUCTURE_MODES = ("substructure", "similar")
# A substructure search stops after this many matches, or after checking this many screened
# candidates with RDKit, and says so: the first pages are what a person reads.
MAX_MATCHES = 1000
MAX_CHECKS = 20000


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
    """The query molecule (chemreport.matching); SearchError says why there is none."""
    return matching.substructure_query(text, settings.SMILES_MAX_CHARS)


def similarity_query(text: str) -> DataStructs.ExplicitBitVect:
    """The Morgan fingerprint of the standardised query molecule."""
    return matching.similarity_query(text, settings.SMILES_MAX_CHARS)


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
    survivors = matching.screened(pattern, matching.matrix([r[1] for r in rows]))
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
        empty = np.zeros((0, matching.FP_BYTES // 8), np.uint64)
        return _Fingerprints((), empty, np.zeros(0, np.int64))
    pks, blobs = zip(*rows)
    stored = matching.matrix(blobs)
    return _Fingerprints(pks, stored, np.bitwise_count(stored).sum(axis=1, dtype=np.int64))


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
    similarity = matching.tanimoto(query, stored, counts)
    keep = np.flatnonzero(similarity >= threshold - 1e-9)
    order = keep[np.argsort(-similarity[keep], kind="stable")]
    return Hits([pks[i] for i in order], {pks[i]: float(similarity[i]) for i in order})


def highlight_svg(
    smiles: str,
    pattern: Chem.Mol,
    size: tuple[int, int] = (200, 150),
    *,
    budget: float | None = None,
) -> str:
    """`smiles` drawn with `pattern`'s matches marked, within `budget` (default: the search's
    budget, settings.SEARCH_BUDGET_SECONDS); "" past it (chemreport.matching)."""
    budget = settings.SEARCH_BUDGET_SECONDS if budget is None else budget
    return matching.highlight_svg(smiles, pattern, size, budget)


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
