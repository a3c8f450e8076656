"""The model, as one Django-free object: SMILES in, final predictions out.

`Model.load(directory)` reads a checkpoint directory (one Hugging Face checkpoint, or an
ensemble described by ensemble.json). `model.predict(smiles)` runs, like a transformers
pipeline, preprocess (parse, standardise, check the network can read it) → forward (members
and descriptor trees, chemcore.network) → postprocess (read-across, the distance term of σ,
the applicability domain, the nearest measured molecules, chemcore.domain). The site,
training's evaluation and the benchmarks all call this; nothing else composes a prediction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from chemcore import descriptors
from chemcore.chemistry import ParsedMolecule, check_whole, parse_smiles
from chemcore.domain import Domain, Neighbour, Thresholds, for_network
from chemcore.network import ModelOutput, Network, OutputSpec, SmilesTooLong, UnknownTokens

__all__ = [
    "Model",
    "MoleculePrediction",
    "ModelOutput",
    "OutputPrediction",
    "OutputSpec",
    "Refused",
    "SmilesTooLong",
    "UnknownTokens",
]

# Longest SMILES text read when the caller sets no limit (the site passes its own).
MAX_CHARS = 100_000


class Refused(ValueError):
    """Input the model will not predict for: not a molecule, too long, or holding tokens the
    network cannot read. `str()` says which input and why, fit for the user."""


@dataclass(frozen=True)
class OutputPrediction:
    """One output's final value for one molecule, and how far to trust it."""

    label: str
    unit: str
    value: float
    uncertainty: float | None  # calibrated σ; None for a plain (single) checkpoint
    verdict: str  # chemcore.domain: "in", "care" or "out"
    reasons: list[str]
    nearest_similarity: float | None  # to the nearest molecule measured for this output
    read_across: dict | None = None  # what the value was blended from, where it was
    # where the value passed an assay's reporting limit: {"side": "below"|"above", "value"}
    # (read it as at or past that limit; chemcore.domain)
    limit: dict | None = None


@dataclass
class MoleculePrediction:
    """What `Model.predict` gives for one molecule."""

    molecule: ParsedMolecule  # as read and standardised: canonical SMILES, formula, note
    outputs: list[OutputPrediction]
    verdict: str  # the worst over outputs and the molecule's own reasons
    reasons: list[str]  # about the molecule itself (metals, charge, size of one atom...)
    domain: dict = field(repr=False)  # the same, in the form stored with a prediction
    neighbours: list[Neighbour] = field(default_factory=list)  # when asked for

    @property
    def smiles(self) -> str:
        return self.molecule.canonical_smiles

    @property
    def values(self) -> list[float]:
        return [o.value for o in self.outputs]

    @property
    def uncertainties(self) -> list[float | None]:
        return [o.uncertainty for o in self.outputs]


class Model:
    """A checkpoint directory ready to predict: its network and its applicability domain."""

    def __init__(self, network: Network, domain: Domain) -> None:
        self.network = network
        self.domain = domain

    @classmethod
    def load(
        cls,
        directory: Path | str,
        *,
        threads: int | None = None,
        engine: str = "auto",
        thresholds: Thresholds | None = None,
    ) -> Model:
        network = Network(directory, threads=threads, engine=engine)
        return cls(network, for_network(network, thresholds))

    # -- what the checkpoint says about itself ------------------------------------------------

    @property
    def directory(self) -> Path:
        return self.network.directory

    @property
    def name(self) -> str:
        return self.network.name

    @property
    def version(self) -> str:
        return self.network.version

    @property
    def weights_hash(self) -> str:
        """SHA-256 of everything that sets the values (weights, manifest, training set)."""
        return self.network.weights_hash

    @property
    def outputs(self) -> list[OutputSpec]:
        return self.network.outputs

    @property
    def kind(self) -> str:
        return self.network.kind

    @property
    def value_kind(self) -> str:
        return self.network.value_kind

    @property
    def has_uncertainty(self) -> bool:
        return self.network.has_uncertainty

    @property
    def test_metrics(self) -> dict:
        return self.network.test_metrics

    @property
    def max_tokens(self) -> int:
        return self.network.max_tokens

    @property
    def training(self):
        """The measured molecules (chemcore.domain.TrainingSet), or None."""
        return self.domain.training

    # -- the pipeline ---------------------------------------------------------------------------

    def preprocess(self, text: str, *, max_chars: int = MAX_CHARS) -> ParsedMolecule:
        """Parse and standardise `text` and check the network can read it all; Refused says
        why not."""
        try:
            parsed = parse_smiles(text, max_chars=max_chars)
            check_whole(parsed)
            self.network.check_length(parsed.canonical_smiles)
            self.network.check_tokens(parsed.canonical_smiles)
        except ValueError as error:  # InvalidSmiles (a wildcard too), SmilesTooLong, UnknownTokens
            raise Refused(str(error)) from error
        return parsed

    def forward(
        self,
        molecules: Sequence[ParsedMolecule],
        *,
        batch_size: int = 64,
        progress: Callable[[int], None] | None = None,
        features: Callable[[], np.ndarray] | None = None,
    ) -> list[ModelOutput]:
        """The network's values (member mean, descriptor blend) and calibrated spread (with the
        error model's term where the checkpoint has one).

        `features()`, if given, returns `descriptor_rows` of the molecules' canonical SMILES,
        computed elsewhere meanwhile (a batch's helper process); asked for after the members."""
        smiles = [m.canonical_smiles for m in molecules]
        return self.network.predict_with_uncertainty(
            smiles, batch_size=batch_size, progress=progress, features=features
        )

    @property
    def descriptor_names(self) -> list[str] | None:
        """The descriptors the descriptor model reads (None: the checkpoint has none)."""
        return self.network.descriptor_names

    def descriptor_rows(self, smiles: Sequence[str]) -> np.ndarray | None:
        """The descriptor model's input for these canonical SMILES (what `forward` computes
        when no `features` are given); None when the checkpoint has no descriptor model."""
        names = self.descriptor_names
        return None if names is None else descriptors.from_smiles(smiles, names)

    def postprocess(
        self, molecule: ParsedMolecule, raw: ModelOutput, *, neighbours: int = 0
    ) -> MoleculePrediction:
        """Read-across, the distance term of σ and the verdicts: the final prediction."""
        sims = self.domain.similarities(molecule.mol)
        judged = self.domain.assess(molecule.mol, raw.values, raw.uncertainties, sims=sims)
        outputs = [
            OutputPrediction(
                label=o["label"],
                unit=spec.unit,
                value=float(o["value"]),
                uncertainty=None if o["uncertainty"] is None else float(o["uncertainty"]),
                verdict=o["verdict"],
                reasons=list(o["reasons"]),
                nearest_similarity=o["nearest_similarity"],
                read_across=o.get("read_across"),
                limit=o.get("limit"),
            )
            for o, spec in zip(judged["outputs"], self.outputs, strict=True)
        ]
        return MoleculePrediction(
            molecule=molecule,
            outputs=outputs,
            verdict=judged["verdict"],
            reasons=list(judged["reasons"]),
            domain=judged,
            neighbours=self.domain.neighbours(molecule.mol, neighbours, sims) if neighbours else [],
        )

    def run(
        self,
        molecules: Sequence[ParsedMolecule],
        *,
        batch_size: int = 64,
        progress: Callable[[int], None] | None = None,
        neighbours: int = 0,
        features: Callable[[], np.ndarray] | None = None,
    ) -> list[MoleculePrediction]:
        """forward + postprocess of molecules `preprocess` has read, in order."""
        raw = self.forward(molecules, batch_size=batch_size, progress=progress, features=features)
        return [
            self.postprocess(m, r, neighbours=neighbours)
            for m, r in zip(molecules, raw, strict=True)
        ]

    def predict(
        self,
        smiles: str | Sequence[str],
        *,
        batch_size: int = 64,
        progress: Callable[[int], None] | None = None,
        neighbours: int = 0,
        max_chars: int = MAX_CHARS,
    ):
        """One SMILES: its MoleculePrediction (Refused is raised). A list: one item per input,
        in order, each a MoleculePrediction or the Refused saying why (one forward pass)."""
        if isinstance(smiles, str):
            return self.run([self.preprocess(smiles, max_chars=max_chars)], neighbours=neighbours)[
                0
            ]
        read: list[ParsedMolecule | Refused] = []
        for text in smiles:
            try:
                read.append(self.preprocess(text, max_chars=max_chars))
            except Refused as refusal:
                read.append(refusal)
        done = iter(
            self.run(
                [m for m in read if isinstance(m, ParsedMolecule)],
                batch_size=batch_size,
                progress=progress,
                neighbours=neighbours,
            )
        )
        return [m if isinstance(m, Refused) else next(done) for m in read]

    # -- stored predictions ---------------------------------------------------------------------

    def judge(self, mol, values: Sequence[float], uncertainties=None) -> dict:
        """The verdicts for values that are final already (stored ones): nothing is blended."""
        return self.domain.assess(mol, values, uncertainties, compose=False)

    def nearest(self, mol, k: int = 5) -> list[Neighbour]:
        """The k measured molecules most like `mol`, most similar first."""
        return self.domain.neighbours(mol, k)
