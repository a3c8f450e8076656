"""Applicability domain: how far to trust one prediction, per output, with reasons in words.

Framework-free (RDKit, NumPy and the standard library): chemcore.model's postprocess calls
`Domain.assess`, whose result the site stores with each prediction. What the model was
trained on comes from the checkpoint's `training_set.csv` (canonical SMILES, one measured
value per output, blank where unmeasured); without that file only the checks that need no
training molecules run (metals, inorganic, single atoms, charge, value range, uncertainty).

Verdicts, worst wins: `in` (in domain), `care` (use with care), `out` (out of domain).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rdkit import Chem

from chemcore.checkpoint import TRAINING_SET
from chemcore.chemistry import (
    elements,
    fingerprint,
    is_inorganic,
    metals,
    molecular_weight,
)
from chemcore.readacross import blend, neighbour_mean
from chemcore.similarity import BitIndex
from chemcore.uncertainty import combine

IN, CARE, OUT = "in", "care", "out"
VERDICTS = (IN, CARE, OUT)  # in order of increasing concern
VERDICT_LABELS = {IN: "in domain", CARE: "use with care", OUT: "out of domain"}


def worst(verdicts: Sequence[str]) -> str:
    return max(verdicts, key=VERDICTS.index, default=IN)


@dataclass(frozen=True)
class Thresholds:
    """Where the verdicts change; shown on the model page.

    Looked at on the v1 test sets (`bench/bench_domain.py`): below a nearest-neighbour
    Tanimoto of 0.3 the test RMSE grows clearly (logS 0.94 against 0.62 at 0.5 or more;
    ΔG_hyd 4.2 against 1.5). The 0.15 cut-off is a judgement, not a measurement: only 9
    test molecules fall below it. Size limits come from the training set itself.
    """

    # The default; a checkpoint may set its own per output, chosen on validation
    # (OutputInfo.similarity_care, from the ensemble manifest).
    similarity_care: float = 0.30
    similarity_out: float = 0.15
    size_care_percentile: float = 99.0  # heavy atoms / weight above this training percentile
    size_out_factor: float = 1.5  # ... and above this many times the largest measured molecule
    # σ against the output's typical uncertainty (σ's root mean square over the validation
    # molecules; the test RMSE for a checkpoint that does not record it): only a clearly
    # larger one is flagged, σ above this many times that.
    uncertainty_care: float = 1.5
    uncertainty_out: float = 3.0
    # An element in fewer molecules measured for an output than this, and in under 1 % of
    # them: use with care (logD's 5 boron molecules among about 4,000).
    rare_element_count: int = 10
    rare_element_share: float = 0.01
    # A bound of the training range that at least this many, and this share, of the molecules
    # measured for an output sit on is an assay's reporting limit (Biogen's microsomal
    # clearance floor holds a third of them): a value beyond it reads as "at or beyond the
    # limit", not out of domain.
    censored_count: int = 10
    censored_share: float = 0.05


@dataclass
class Neighbour:
    index: int  # row in the training set (for drawing it)
    smiles: str
    similarity: float
    values: list[float | None]  # measured, one per output (None: not measured)


@dataclass
class _Sizes:
    """Heavy atoms and weight of the molecules measured for one output."""

    heavy_high: float  # at the `size_care_percentile`
    heavy_max: int
    weight_high: float
    weight_max: float


@dataclass
class TrainingSet:
    """The checkpoint's measured molecules, fingerprinted once per process."""

    smiles: list[str]
    values: np.ndarray  # (n, outputs), NaN = unmeasured
    fingerprints: list = field(repr=False)
    heavy_atoms: np.ndarray
    weights: np.ndarray
    elements: frozenset[str]
    # Per output: how many molecules measured for it contain each element (computed at load).
    element_counts: list[dict[str, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Which molecules have each fingerprint bit, for NumPy's Tanimoto
        # (chemcore.similarity.BitIndex, equal to RDKit's bulk one): 1.6 MB for 11,000 molecules.
        self._index = BitIndex(self.fingerprints)

    @classmethod
    def from_csv(cls, path: Path | str, labels: Sequence[str]) -> TrainingSet:
        # One molecule at a time: keeping all ~11,000 RDKit molecules until the end held about
        # 290 MB that the allocator kept after they were freed; only what is kept is kept.
        smiles, rows, fingerprints, heavy, weights = [], [], [], [], []
        seen: set[str] = set()
        counts: list[dict[str, int]] = [{} for _ in labels]
        with Path(path).open(newline="", encoding="utf-8") as handle:
            for record in csv.DictReader(handle):
                mol = Chem.MolFromSmiles(record["smiles"])
                if mol is None:
                    continue
                smiles.append(record["smiles"])
                rows.append([_number(record.get(label)) for label in labels])
                symbols = elements(mol)
                seen.update(symbols)
                for index, value in enumerate(rows[-1]):
                    if not math.isnan(value):
                        for symbol in symbols:
                            counts[index][symbol] = counts[index].get(symbol, 0) + 1
                fingerprints.append(fingerprint(mol))
                heavy.append(mol.GetNumHeavyAtoms())
                weights.append(molecular_weight(mol))
        return cls(
            smiles=smiles,
            values=np.array(rows, dtype=np.float64).reshape(len(rows), len(labels)),
            fingerprints=fingerprints,
            heavy_atoms=np.array(heavy),
            weights=np.array(weights),
            elements=frozenset(seen),
            element_counts=counts,
        )

    def measured_counts(self) -> list[int]:
        """How many molecules were measured for each output."""
        return [int(n) for n in (~np.isnan(self.values)).sum(axis=0)]

    def similarities(self, mol: Chem.Mol) -> np.ndarray:
        if not self.fingerprints:
            return np.zeros(0, dtype=np.float64)
        return self._index.similarity(mol)

    def bound_counts(self, output: int) -> tuple[int, int, int]:
        """How many molecules measured for `output` have the lowest and the highest measured
        value, and how many were measured: many sit on a bound where an assay reports a limit,
        not a number."""
        column = self.values[:, output]
        measured = column[~np.isnan(column)]
        if not len(measured):
            return 0, 0, 0
        low, high = measured.min(), measured.max()
        return int((measured == low).sum()), int((measured == high).sum()), len(measured)

    def sizes(self, output: int, percentile: float) -> _Sizes | None:
        measured = ~np.isnan(self.values[:, output])
        if not measured.any():
            return None
        heavy, weight = self.heavy_atoms[measured], self.weights[measured]
        return _Sizes(
            heavy_high=float(np.percentile(heavy, percentile)),
            heavy_max=int(heavy.max()),
            weight_high=float(np.percentile(weight, percentile)),
            weight_max=float(weight.max()),
        )

    def neighbours(self, mol: Chem.Mol, k: int = 5, sims: np.ndarray | None = None):
        """The k most similar measured molecules, most similar first (ties: by SMILES)."""
        sims = self.similarities(mol) if sims is None else sims
        candidates = range(len(sims))
        if 0 < k < len(sims):  # only those as similar as the k-th most similar (ties kept)
            kth = np.partition(sims, len(sims) - k)[len(sims) - k]
            candidates = np.flatnonzero(sims >= kth).tolist()
        order = sorted(candidates, key=lambda i: (-sims[i], self.smiles[i]))[:k]
        return [
            Neighbour(
                index=i,
                smiles=self.smiles[i],
                similarity=float(sims[i]),
                values=[None if math.isnan(v) else float(v) for v in self.values[i]],
            )
            for i in order
        ]


def load_training_set(directory: Path | str, labels: Sequence[str]) -> TrainingSet | None:
    """The checkpoint's `training_set.csv`, or None when it ships none."""
    path = Path(directory) / TRAINING_SET
    return TrainingSet.from_csv(path, labels) if path.exists() else None


def for_checkpoint(
    directory: Path | str,
    specs: Sequence,
    test_metrics: dict,
    thresholds: Thresholds | None = None,
    distance_scale: Sequence[float] = (),
    read_across: Sequence[tuple[float, float]] = (),
    read_across_k: int = 5,
    typical_uncertainty: Sequence[float] = (),
    similarity_care: Sequence[float] = (),
) -> Domain:
    """The rules for a checkpoint: `specs` have .label/.unit/.range (network.OutputSpec);
    `distance_scale` (the ensemble manifest's) adds the distance term to the uncertainty and
    `read_across` ((weight, power) per output) blends the value with its `read_across_k`
    nearest measured molecules; `typical_uncertainty` and `similarity_care` (the manifest's
    verdict rules, chosen on validation) replace the test RMSE and the default similarity
    cut."""
    outputs = [
        OutputInfo(
            label=spec.label,
            unit=spec.unit,
            range=spec.range,
            typical_uncertainty=(
                typical_uncertainty[i]
                if i < len(typical_uncertainty) and typical_uncertainty[i]
                else (test_metrics.get(spec.label) or {}).get("rmse")
            ),
            distance_scale=distance_scale[i] if i < len(distance_scale) else 0.0,
            read_across=read_across[i] if i < len(read_across) else (0.0, 1.0),
            similarity_care=similarity_care[i] if i < len(similarity_care) else None,
        )
        for i, spec in enumerate(specs)
    ]
    training = load_training_set(directory, [spec.label for spec in specs])
    return Domain(outputs, training, thresholds, read_across_k=read_across_k)


def for_network(network, thresholds: Thresholds | None = None) -> Domain:
    """The rules for the checkpoint a `chemcore.network.Network` reads, with its manifest's
    distance term and read-across."""
    return for_checkpoint(
        network.directory,
        network.outputs,
        network.test_metrics,
        thresholds,
        distance_scale=network.distance_scale,
        read_across=network.read_across,
        read_across_k=network.read_across_k,
        typical_uncertainty=network.typical_uncertainty,
        similarity_care=network.similarity_care,
    )


def _number(text: str | None) -> float:
    try:
        return float(text) if text not in (None, "") else math.nan
    except ValueError:
        return math.nan


@dataclass
class OutputInfo:
    """What the domain check needs to know about one model output."""

    label: str
    range: dict | None = None  # {"min", "max", ...} of the training targets
    # The unit of the uncertainty rule: the output's typical σ, its root mean square over the
    # validation molecules (the test RMSE for checkpoints that do not record one).
    typical_uncertainty: float | None = None
    unit: str = ""
    distance_scale: float = 0.0  # chemcore.uncertainty: weight of (1 - nearest similarity)
    read_across: tuple[float, float] = (0.0, 1.0)  # chemcore.readacross (weight, power)
    # Nearest measured similarity below which the output is "use with care"; None: the
    # Thresholds' default, 0: no such rule (σ's distance term covers those molecules).
    similarity_care: float | None = None

    def similarity_cut(self, default: float) -> float:
        return default if self.similarity_care is None else self.similarity_care


class Domain:
    """The applicability-domain rules for one checkpoint."""

    def __init__(
        self,
        outputs: Sequence[OutputInfo],
        training: TrainingSet | None = None,
        thresholds: Thresholds | None = None,
        read_across_k: int = 5,
    ) -> None:
        self.outputs = list(outputs)
        self.read_across_k = read_across_k
        self.training = training
        self.thresholds = thresholds or Thresholds()
        self._measured = [
            ~np.isnan(training.values[:, i]) if training else None for i in range(len(outputs))
        ]
        # Rows measured for each output, as indices (read once per output and molecule).
        self._measured_rows = [None if m is None else np.flatnonzero(m) for m in self._measured]
        self._sizes = [
            training.sizes(i, self.thresholds.size_care_percentile) if training else None
            for i in range(len(self.outputs))
        ]
        self._bound_counts = [
            training.bound_counts(i) if training else (0, 0, 0) for i in range(len(self.outputs))
        ]

    def molecule_reasons(self, mol: Chem.Mol) -> list[tuple[str, str]]:
        """(verdict, reason) that hold for every output: what kind of species this is."""
        symbols = elements(mol)
        reasons: list[tuple[str, str]] = []
        found = metals(symbols)
        if found:
            reasons.append(
                (OUT, f"contains a metal ({', '.join(found)}); the model knows organic molecules")
            )
        if self.training is not None:
            unseen = [s for s in symbols if s not in self.training.elements and s not in found]
            if unseen:
                reasons.append(
                    (OUT, f"contains {', '.join(unseen)}, absent from every training molecule")
                )
        if is_inorganic(mol):
            what = "carbon only as carbonate or CO2" if "C" in symbols else "no carbon"
            reasons.append(
                (OUT, f"an inorganic species ({what}); the model knows organic molecules")
            )
        if mol.GetNumHeavyAtoms() == 1:
            verdict = CARE if symbols == ["C"] else OUT
            reasons.append((verdict, "a single heavy atom: too small for the model to judge"))
        charge = Chem.GetFormalCharge(mol)
        if charge:
            reasons.append(
                (CARE, f"an ion (net charge {charge:+d}); the measured molecules are neutral")
            )
        return reasons

    def element_reasons(
        self, index: int, mol: Chem.Mol, symbols: list[str] | None = None
    ) -> list[tuple[str, str]]:
        """Elements no molecule measured for output `index` contains (out of domain), or only
        a few do (use with care). Elements absent from every training molecule, and metals,
        are the molecule's reasons (`molecule_reasons`), not repeated here."""
        training = self.training
        if training is None or index >= len(training.element_counts):
            return []
        counts = training.element_counts[index]
        if symbols is None:
            symbols = elements(mol)
        symbols = [s for s in symbols if s in training.elements and not metals([s])]
        reasons = []
        unseen = [s for s in symbols if not counts.get(s)]
        if unseen:
            reasons.append(
                (OUT, f"contains {', '.join(unseen)}, which no molecule measured for it contains")
            )
        measured = len(self._measured_rows[index])
        limit = min(
            self.thresholds.rare_element_count, self.thresholds.rare_element_share * measured
        )
        rare = [s for s in symbols if 0 < counts.get(s, 0) < limit]
        if rare:
            held = ", ".join(f"{s} {counts[s]}" for s in rare)
            reasons.append(
                (
                    CARE,
                    f"contains {', '.join(rare)}, which few molecules measured for it "
                    f"contain ({held})",
                )
            )
        return reasons

    def read_across(
        self, index: int, value: float, sims, measured_sims=None
    ) -> tuple[float, dict | None]:
        """`value` blended with the molecules measured for output `index` that are most like
        this one (chemcore.readacross) and what was blended, or `value` and None where the
        output has no read-across or nothing is measured. `measured_sims`: `sims` of those
        molecules only, when the caller has them already."""
        weight, power = self.outputs[index].read_across
        if not weight or sims is None or self.training is None:
            return value, None
        rows = self._measured_rows[index]
        if not len(rows):
            return value, None
        if measured_sims is None:
            measured_sims = sims[rows]
        near, nearest = neighbour_mean(
            measured_sims, self.training.values[rows, index], k=self.read_across_k
        )
        return float(blend(value, near, nearest, weight, power)), {
            "model_value": float(value),
            "neighbour_mean": near,
            "weight": float(weight * nearest**power),
        }

    def output_reasons(
        self,
        index: int,
        mol: Chem.Mol,
        value: float,
        sigma: float | None,
        sims,
        compose=True,
        facts: dict | None = None,
    ) -> tuple[list[tuple[str, str]], float | None, float | None]:
        """(verdict, reason) for one output, the nearest measured neighbour's similarity and the
        uncertainty (the model's, with the distance term added when `compose`). `facts`: what
        `assess` worked out once for the molecule (symbols, heavy atoms, weight, the
        similarities of this output's measured molecules); a reporting limit the value passed
        is left there as "limit"."""
        facts = facts or {}
        spec, limits, reasons = self.outputs[index], self.thresholds, []
        reasons += self.element_reasons(index, mol, facts.get("symbols"))
        sizes = self._sizes[index]
        if sizes is not None:
            if "heavy" not in facts:
                facts["heavy"], facts["weight"] = mol.GetNumHeavyAtoms(), molecular_weight(mol)
            heavy, weight = facts["heavy"], facts["weight"]
            factor = limits.size_out_factor
            if heavy > factor * sizes.heavy_max or weight > factor * sizes.weight_max:
                reasons.append(
                    (
                        OUT,
                        f"far larger ({heavy} heavy atoms, {weight:.0f} g/mol) than any molecule "
                        f"measured for it (up to {sizes.heavy_max} heavy atoms, "
                        f"{sizes.weight_max:.0f} g/mol)",
                    )
                )
            elif heavy > sizes.heavy_high or weight > sizes.weight_high:
                reasons.append(
                    (
                        CARE,
                        f"larger ({heavy} heavy atoms, {weight:.0f} g/mol) than "
                        f"{limits.size_care_percentile:g} % of the molecules measured for it",
                    )
                )
        nearest = None
        if sims is not None and self.training is not None:
            rows = self._measured_rows[index]
            if len(rows):
                measured_sims = facts.get("measured_sims")
                if measured_sims is None:
                    measured_sims = sims[rows]
                nearest = float(measured_sims.max())
                if nearest < limits.similarity_out:
                    verdict = OUT
                elif nearest < spec.similarity_cut(limits.similarity_care):
                    verdict = CARE
                else:
                    verdict = IN
                if verdict != IN:
                    reasons.append(
                        (
                            verdict,
                            f"the most similar molecule measured for it is only "
                            f"{nearest:.2f} similar (Tanimoto)",
                        )
                    )
        if sigma is not None and compose and spec.distance_scale and nearest is not None:
            sigma = combine(sigma, nearest, 1.0, spec.distance_scale)
        if spec.range and not (spec.range["min"] <= value <= spec.range["max"]):
            verdict, text, limit = self._range_reason(index, value, spec.range)
            reasons.append((verdict, text))
            if limit:  # past a reporting limit: `assess` stores it for the display
                facts["limit"] = limit
        if sigma is not None and spec.typical_uncertainty:
            ratio = sigma / spec.typical_uncertainty
            if ratio > limits.uncertainty_care:
                verdict = OUT if ratio > limits.uncertainty_out else CARE
                reasons.append(
                    (
                        verdict,
                        f"the model's uncertainty ({sigma:.2f}) is {ratio:.1f}× its typical "
                        f"uncertainty ({spec.typical_uncertainty:.2f})",
                    )
                )
        return reasons, nearest, sigma

    def _range_reason(self, index: int, value: float, bounds: dict) -> tuple[str, str, dict | None]:
        """A value outside the training range: out of domain, unless the bound it passed is
        an assay's reporting limit (`Thresholds.censored_count` and `censored_share` of the
        measured molecules sit on it), which a model trained on such values reaches and passes
        by a little; then a note (in domain) saying how to read it, and the limit
        ({"side", "value"}; None when out of domain)."""
        below = value < bounds["min"]
        bound = bounds["min"] if below else bounds["max"]
        counts = self._bound_counts[index]
        on_bound, measured = counts[0 if below else 1], counts[2]
        share = on_bound / measured if measured else 0.0
        limits = self.thresholds
        if on_bound >= limits.censored_count and share >= limits.censored_share:
            side = "below" if below else "above"
            return (
                IN,
                f"the predicted value {value:.2f} is {side} {bound:.2f}, the "
                f"{'lowest' if below else 'highest'} value the assay reports ({100 * share:.0f} % "
                f"of the molecules measured for it sit there): read it as at or {side} that "
                "limit",
                {"side": side, "value": bound},
            )
        return (
            OUT,
            f"the predicted value {value:.2f} is outside the training range "
            f"{bounds['min']:g} to {bounds['max']:g}",
            None,
        )

    def assess(
        self,
        mol: Chem.Mol,
        values: Sequence[float],
        uncertainties: Sequence[float | None] | None = None,
        compose: bool = True,
        sims=None,
    ) -> dict:
        """The verdict and reasons to store: {"verdict", "reasons", "outputs": [...]}.

        `values` and `uncertainties` are the predictor's (member mean, blended with the
        descriptor model where the checkpoint has one; scaled member spread); with
        `compose` each value is blended with the nearest measured molecules where the
        checkpoint says so (chemcore.readacross, what was blended in "read_across") and the
        distance term is added to its uncertainty (chemcore.uncertainty): each output's final
        "value" and "uncertainty", the ones to store. Pass compose=False for values and
        uncertainties that are final already (stored ones)."""
        common = self.molecule_reasons(mol)
        if sims is None:
            sims = self.similarities(mol)
        sigmas = list(uncertainties or [None] * len(values))
        per_output = []
        molecule = {"symbols": elements(mol)}  # worked out once, not once per output
        for index, (value, sigma) in enumerate(zip(values, sigmas)):
            facts = dict(molecule)
            rows = self._measured_rows[index]
            if sims is not None and rows is not None:
                facts["measured_sims"] = sims[rows]
            if compose:
                value, across = self.read_across(index, value, sims, facts.get("measured_sims"))
            else:
                across = None
            own, nearest, sigma = self.output_reasons(
                index, mol, value, sigma, sims, compose, facts
            )
            molecule.update((k, facts[k]) for k in ("heavy", "weight") if k in facts)
            reasons = common + own
            judged = {
                "label": self.outputs[index].label,
                "verdict": worst([v for v, _ in reasons]),
                "reasons": [text for _, text in own],
                "nearest_similarity": None if nearest is None else round(nearest, 3),
                "value": value,
                "uncertainty": sigma,
            }
            if across:
                judged["read_across"] = across
            if "limit" in facts:  # the value passed an assay's reporting limit
                judged["limit"] = facts["limit"]
            per_output.append(judged)
        return {
            "verdict": worst([o["verdict"] for o in per_output] + [v for v, _ in common]),
            "reasons": [text for _, text in common],
            "outputs": per_output,
        }

    def similarities(self, mol: Chem.Mol) -> np.ndarray | None:
        """Tanimoto to every training molecule (None without a training set)."""
        return self.training.similarities(mol) if self.training is not None else None

    def neighbours(self, mol: Chem.Mol, k: int = 5, sims=None) -> list[Neighbour]:
        return self.training.neighbours(mol, k, sims) if self.training is not None else []


def verdict_label(verdict: str | None) -> str:
    return VERDICT_LABELS.get(verdict or "", "not assessed")


def all_reasons(domain: dict | None) -> list[str]:
    """Every reason in a stored domain result, each prefixed by its output when specific."""
    if not domain:
        return []
    texts = list(domain.get("reasons") or [])
    for output in domain.get("outputs") or []:
        texts += [f"{output['label']}: {text}" for text in output.get("reasons") or []]
    return texts
