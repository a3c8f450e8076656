"""The network part of a model: a checkpoint directory's members, tokenizer and descriptor trees.

`Network` reads one Hugging Face checkpoint, or an ensemble of them (ensemble.json,
chemcore.checkpoint), and gives per molecule the member mean (blended with the descriptor
model where the manifest says so) and the calibrated member spread. What makes those final
(read-across, the distance term of σ, the verdicts) is chemcore.model's postprocess; callers
use chemcore.model.Model, not this. The only module that imports torch and transformers.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from chemcore import checkpoint as contract

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REGRESSION = "regression"
SINGLE_LABEL = "single_label_classification"
MULTI_LABEL = "multi_label_classification"
# "auto": torch, the stacked engine where it applies, else each member's HF forward; "hf": the
# latter always; "numpy": numpy_bert.py without torch where it applies, else as "auto".
ENGINES = ("auto", "hf", "numpy")


class SmilesTooLong(ValueError):
    """The SMILES has more tokens than the model accepts; we refuse rather than truncate."""


class UnknownTokens(ValueError):
    """The SMILES holds tokens the model never saw ([UNK]): its answer would not be about them."""


@dataclass(frozen=True)
class OutputSpec:
    label: str
    unit: str = ""
    range: dict | None = None  # {"min", "max", "p05", "p95"} of the training targets
    # From the checkpoint's config where it says (chemcore.checkpoint), else empty:
    description: str = ""  # one line for a chemist
    favourable: str = ""  # "higher", "lower" or "" (a range, or no preference)
    group: str = ""  # e.g. "Physical chemistry", "ADME (in vitro)"
    linear_unit: str = ""  # unit of 10**value for a log output (shown beside the log value)


@dataclass(frozen=True)
class ModelOutput:
    """One molecule's predicted values and, from an ensemble, their uncertainties (else None)."""

    values: list[float]
    uncertainties: list[float] | None = None


def _weights_hash(directories: list[Path], top: Path | None = None) -> str:
    """SHA-256 over every member's weight files in member order (one directory: as always),
    then, for an ensemble (`top`), its manifest, training set and descriptor model: the blends
    and the uncertainty calibration change the values served as much as the weights do, and
    stored predictions and cached files are keyed by this hash."""
    digest = hashlib.sha256()
    for directory in directories:
        files = sorted(directory.glob("*.safetensors")) or sorted(directory.glob("*.bin"))
        if not files:
            raise FileNotFoundError(f"No weights (*.safetensors or *.bin) in {directory}")
        for path in files:
            _update(digest, path)
    if top is not None:
        for name in (
            contract.ENSEMBLE_MANIFEST,
            contract.TRAINING_SET,
            contract.DESCRIPTOR_MODEL,
            contract.DESCRIPTOR_MLP,
            contract.GRAPH_NETWORK,
            contract.ERROR_MODEL,
        ):
            if (top / name).exists():
                _update(digest, top / name)
    return digest.hexdigest()


def _update(digest, path: Path) -> None:
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)


def _same_tokenizer(directories: list[Path]) -> None:
    """Members are fed one tokenisation, so they must share the tokenizer's vocabulary file."""
    texts = {
        (d / "tokenizer.json").read_bytes() for d in directories if (d / "tokenizer.json").exists()
    }
    if len(texts) > 1:
        raise ValueError(f"Ensemble members in {directories[0].parent} use different tokenizers")


class _Readable:
    """The pre-tokenized pieces the network reads as themselves: in the vocabulary, or (a
    sub-word tokenizer) encoded without [UNK]; never a metal atom (refused: the site predicts
    organic molecules, although a few training organometallics put such tokens in)."""

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer
        self.vocab = tokenizer.get_vocab()
        self.unk = tokenizer.unk_token_id
        self._seen: dict[str, bool] = {}

    def __contains__(self, piece: str) -> bool:
        from chemcore.tokens import is_metal_token

        if is_metal_token(piece):
            return False
        if piece in self.vocab:
            return True
        found = self._seen.get(piece)
        if found is None:
            ids = self.tokenizer(piece, add_special_tokens=False)["input_ids"]
            found = self.unk not in ids
            if len(self._seen) > 10_000:  # pieces come from user input: stay bounded
                self._seen.clear()
            self._seen[piece] = found
        return found


def _limit_blas_threads(threads: int) -> None:
    """NumPy's BLAS threads, as torch.set_num_threads does for torch (threadpoolctl where
    installed; else the BLAS default, usually the OPENBLAS_NUM_THREADS/OMP_NUM_THREADS limit)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(threads, user_api="blas")


def _stacked_from_files(members: list[Path], configs: list):
    """The stacked engine read straight from each member's model.safetensors, or None where
    the files are not plain float32 BERT sequence classifiers (chemcore.network.stacked_bert)."""
    from chemcore.network import stacked_bert

    files = [member / "model.safetensors" for member in members]
    if not all(path.exists() for path in files):
        return None
    from safetensors.torch import load_file

    state_dicts = [load_file(path) for path in files]
    if not stacked_bert.supports_files(configs, state_dicts):
        return None
    return stacked_bert.StackedBert(configs[0], state_dicts)


class Network:
    """A sequence-classification/regression checkpoint (or an ensemble), ready for batched
    inference."""

    def __init__(
        self, directory: Path | str, *, threads: int | None = None, engine: str = "auto"
    ) -> None:
        if engine not in ENGINES:
            raise ValueError(f"Unknown inference engine {engine!r}: one of {', '.join(ENGINES)}")
        self.directory = Path(directory)
        self.manifest = contract.read_manifest(self.directory)
        members = (
            [self.directory / name for name in self.manifest.members]
            if self.manifest
            else [self.directory]
        )
        self.weights_hash = _weights_hash(  # fails first, and clearly
            members, self.directory if self.manifest else None
        )
        _same_tokenizer(members)
        self._members = members
        self._models: list | None = None
        self._stacked = None
        self._threads = threads
        loaded = engine == "numpy" and self._load_without_torch(members)
        if not loaded:
            self._load_with_torch(members, engine)
        self._vocab = _Readable(self.tokenizer)
        self.engine = "numpy" if loaded else "stacked" if self._stacked is not None else "hf"
        config = self.configs[0]
        if any(c.num_labels != config.num_labels for c in self.configs):
            raise ValueError(f"Ensemble members in {self.directory} differ in their outputs")
        self.name = getattr(config, contract.KEY_DISPLAY_NAME, None) or self.directory.name
        self.version = str(getattr(config, contract.KEY_VERSION, "") or self.weights_hash[:12])
        self.kind = config.problem_type or (REGRESSION if config.num_labels == 1 else SINGLE_LABEL)
        self.max_tokens = self._max_tokens()
        units = list(getattr(config, contract.KEY_UNITS, None) or [])
        ranges = list(getattr(config, contract.KEY_RANGES, None) or [])
        id2label = config.id2label or {}

        def per_output(key: str) -> list[str]:
            found = list(getattr(config, key, None) or [])
            return [str(found[i]) if i < len(found) else "" for i in range(config.num_labels)]

        extra = zip(
            per_output(contract.KEY_DESCRIPTIONS),
            per_output(contract.KEY_FAVOURABLE),
            per_output(contract.KEY_GROUPS),
            per_output(contract.KEY_LINEAR_UNITS),
        )
        self.outputs = [
            OutputSpec(
                label=str(id2label.get(i, f"Output {i}")),
                unit=units[i] if i < len(units) else "",
                range=ranges[i] if i < len(ranges) else None,
                description=description,
                favourable=favourable,
                group=group,
                linear_unit=linear_unit,
            )
            for i, (description, favourable, group, linear_unit) in enumerate(extra)
        ]
        # Per output label: n, RMSE (with its 95 % interval), MAE, R² on the test set; served by
        # GET /api/v1/model.
        self.test_metrics = dict(getattr(config, contract.KEY_TEST_METRICS, None) or {})
        # The distance term of the uncertainty (chemcore.uncertainty), added by the domain
        # check, which knows each molecule's nearest training neighbour.
        self.distance_scale = list(self.manifest.distance_scale) if self.manifest else []
        # The read-across blend (chemcore.readacross), (weight, power) per output, also applied
        # by the domain check: it needs the nearest measured molecules.
        self.read_across: list[tuple[float, float]] = (
            list(zip(self.manifest.read_across_weight, self.manifest.read_across_power))
            if self.manifest
            else []
        )
        self.read_across_k = self.manifest.read_across_k if self.manifest else 5
        # The descriptor model (chemcore.descriptor_model) and its weight per output, blended
        # into the member mean here: together they are what "the model" predicts.
        self.descriptor_weight: list[float] = []
        self.descriptor_model = None
        if self.manifest and self.manifest.blends_descriptors:
            from chemcore import descriptor_model

            self.descriptor_model = descriptor_model.read(
                self.directory / self.manifest.descriptor_model
            )
            self.descriptor_weight = [
                self.manifest.descriptor_weight[i]
                if i < len(self.manifest.descriptor_weight)
                else 0.0
                for i in range(config.num_labels)
            ]
        # The descriptor network (chemcore.descriptor_mlp), mixed with the trees per output.
        self.descriptor_mlp = None
        self.mlp_weight: list[float] = []
        if self.descriptor_model is not None and self.manifest.blends_mlp:
            from chemcore import descriptor_mlp

            self.descriptor_mlp = descriptor_mlp.read(self.directory / self.manifest.descriptor_mlp)
            if self.descriptor_mlp.descriptors != list(self.descriptor_model.descriptors):
                raise ValueError(
                    f"{self.directory}: the descriptor network reads other columns than the trees"
                )
            self.mlp_weight = [
                self.manifest.mlp_weight[i] if i < len(self.manifest.mlp_weight) else 0.0
                for i in range(config.num_labels)
            ]
        # The graph network (chemcore.graph_network), mixed in after the descriptor network.
        self.graph_network = None
        self.graph_weight: list[float] = []
        if self.descriptor_model is not None and self.manifest.blends_graph:
            from chemcore import graph_network

            self.graph_network = graph_network.read(self.directory / self.manifest.graph_network)
            self.graph_weight = [
                self.manifest.graph_weight[i] if i < len(self.manifest.graph_weight) else 0.0
                for i in range(config.num_labels)
            ]
        # The error model (chemcore.uncertainty): trees on the same descriptor rows predicting
        # the size of each output's error, and its factor per output.
        self.error_model = None
        self.error_scale: list[float] = []
        if self.descriptor_model is not None and self.manifest.models_error:
            from chemcore import descriptor_model

            self.error_model = descriptor_model.read(self.directory / self.manifest.error_model)
            self.error_scale = [
                self.manifest.error_scale[i] if i < len(self.manifest.error_scale) else 0.0
                for i in range(config.num_labels)
            ]
        # The verdicts' per-output rules chosen on validation (chemcore.domain); empty for a
        # plain checkpoint or an older ensemble.
        self.typical_uncertainty = list(self.manifest.typical_uncertainty) if self.manifest else []
        self.similarity_care = list(self.manifest.similarity_care) if self.manifest else []
        scale = list(self.manifest.uncertainty_scale) if self.manifest else []
        self.uncertainty_scale = [
            scale[i] if i < len(scale) else 1.0 for i in range(config.num_labels)
        ]

    def _load_without_torch(self, members: list[Path]) -> bool:
        """The NumPy engine (chemcore.network.numpy_bert), where every member is plain float32 BERT
        files with a plain fast tokenizer and a config that spells out its shape; False (and
        nothing kept) otherwise."""
        from chemcore.network import numpy_bert

        if not numpy_bert.Tokenizer.supports(members[0]):
            return False
        configs = [numpy_bert.JsonConfig(member / "config.json") for member in members]
        files = [member / "model.safetensors" for member in members]
        if not all(c.complete for c in configs) or not all(path.exists() for path in files):
            return False
        from safetensors.numpy import load_file

        state_dicts = [load_file(path) for path in files]
        if not numpy_bert.plain_bert_files(configs, state_dicts):
            return False
        if self._threads:
            _limit_blas_threads(self._threads)
        self.configs = configs
        self.tokenizer = numpy_bert.Tokenizer(members[0])
        self._stacked = numpy_bert.NumpyBert(configs[0], state_dicts)
        return True

    def _load_with_torch(self, members: list[Path], engine: str) -> None:
        import torch
        from transformers import AutoConfig, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        if self._threads:
            torch.set_num_threads(self._threads)
        self.tokenizer = AutoTokenizer.from_pretrained(members[0])
        self.configs = [AutoConfig.from_pretrained(member) for member in members]
        if engine == "hf":
            self.models  # noqa: B018  (loaded now: the HF engine runs them)
            return
        self._stacked = _stacked_from_files(members, self.configs)
        if self._stacked is None:  # not plain float32 BERT files: through the HF models
            from chemcore.network import stacked_bert

            if stacked_bert.supports(self.models):
                self._stacked = stacked_bert.StackedBert.from_models(self.models)

    @property
    def models(self) -> list:
        """The members as transformers models (eval mode). The stacked engine serves from the
        weight files without them, so they are built only when asked for (the HF engine,
        training, tests): transformers' modelling code costs a process about 130 MB."""
        if self._models is None:
            from transformers import AutoModelForSequenceClassification

            self._models = [
                AutoModelForSequenceClassification.from_pretrained(member).eval()
                for member in self._members
            ]
        return self._models

    @property
    def model(self):
        """The first member as a transformers model."""
        return self.models[0]

    @property
    def has_uncertainty(self) -> bool:
        """Only an ensemble gives an uncertainty (its member spread)."""
        return self.manifest is not None

    def _max_tokens(self) -> int:
        limits = [getattr(c, "max_position_embeddings", None) for c in self.configs]
        tokenizer_limit = getattr(self.tokenizer, "model_max_length", None)
        if tokenizer_limit and tokenizer_limit < 1_000_000:  # HF's "no limit" sentinel is huge
            limits.append(tokenizer_limit)
        return min(limit for limit in limits if limit) if any(limits) else 512

    def _pieces(self, smiles: str) -> list[str] | None:
        """The tokenizer's pre-tokenized pieces (None: a tokenizer without a pre-tokenizer)."""
        backend = getattr(self.tokenizer, "backend_tokenizer", None)
        pre = getattr(backend, "pre_tokenizer", None)
        if pre is None:
            return None
        return [piece for piece, _ in pre.pre_tokenize_str(smiles)]

    def reading(self, smiles: str) -> tuple[str, list[tuple[str, str]], list[str]]:
        """(the text the network reads, [(token never seen, the known token read instead)],
        tokens still unknown): stereo/isotope variants of known atoms are read as the known
        atom (chemcore.tokens); unknown elements and charges stay unknown."""
        from chemcore.tokens import readable

        pieces = self._pieces(smiles)
        if pieces is None or self.tokenizer.unk_token_id is None:
            return smiles, [], []
        if all(piece in self._vocab for piece in pieces):
            return smiles, [], []
        out, mapped, unknown = readable(pieces, self._vocab)
        return "".join(out), mapped, unknown

    def model_text(self, smiles: str) -> str:
        return self.reading(smiles)[0]

    def token_count(self, smiles: str) -> int:
        return len(self.tokenizer(self.model_text(smiles), truncation=False)["input_ids"])

    def check_length(self, smiles: str) -> None:
        count = self.token_count(smiles)
        if count > self.max_tokens:
            raise SmilesTooLong(
                f"SMILES is too long for the model: {count} tokens, the model reads at most "
                f"{self.max_tokens}. It is refused rather than silently truncated."
            )

    def unknown_tokens(self, smiles: str) -> list[str]:
        """The pieces of `smiles` the model cannot read even through a stand-in, in order,
        each once."""
        if self._pieces(smiles) is not None:
            return self.reading(smiles)[2]
        unk = self.tokenizer.unk_token_id
        if unk is None:
            return []
        encoded = self.tokenizer(smiles, truncation=False, return_offsets_mapping=True)
        found: list[str] = []
        for token_id, (start, end) in zip(encoded["input_ids"], encoded["offset_mapping"]):
            piece = smiles[start:end]
            if token_id == unk and piece not in found:
                found.append(piece)
        return found

    def check_tokens(self, smiles: str) -> None:
        """Refuse input with unknown tokens: the model would answer for [UNK], not for it."""
        unknown = self.unknown_tokens(smiles)
        if unknown:
            names = ", ".join(unknown)
            raise UnknownTokens(
                f"The model cannot read {names}: "
                f"{'this atom or token is' if len(unknown) == 1 else 'these atoms or tokens are'} "
                "a metal (the model predicts organic molecules) or never seen in training, so it "
                "would predict as if they were not there. Nothing is predicted."
            )

    def predict(self, smiles: list[str], *, batch_size: int = 64) -> list[list[float]]:
        """Predict each SMILES; returns one list of floats per input, in input order."""
        return [o.values for o in self.predict_with_uncertainty(smiles, batch_size=batch_size)]

    def predict_with_uncertainty(
        self, smiles: list[str], *, batch_size: int = 64, progress=None, features=None
    ) -> list[ModelOutput]:
        """Values (member mean) and uncertainties (scaled member std, ensembles only), in order.

        `progress(n)`, if given, is called after each forward pass with the molecules done.
        `features`, if given, is called once the members have run and returns the descriptor
        model's input for `smiles` (`descriptor_rows`, computed elsewhere, e.g. by a batch's
        helper process meanwhile); otherwise the descriptors are computed here.
        """
        import numpy as np

        if not smiles:  # nothing to read (the tokenizer fails on an empty list)
            return []
        texts = [self.model_text(item) for item in smiles]
        lengths = [len(ids) for ids in self.tokenizer(texts, truncation=False)["input_ids"]]
        for item, count in zip(smiles, lengths):
            if count > self.max_tokens:
                self.check_length(item)
        # Sort by length so each batch pads little, then restore input order.
        order = sorted(range(len(smiles)), key=lengths.__getitem__)
        scale = np.array(self.uncertainty_scale, dtype=np.float64)
        means = spreads = None
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            members = self._member_outputs([texts[i] for i in chunk])
            if means is None:
                means = np.zeros((len(smiles), members.shape[-1]))
                spreads = np.zeros((len(smiles), members.shape[-1]))
            means[chunk] = members.mean(axis=0)
            spreads[chunk] = members.std(axis=0, ddof=0) * scale
            if progress is not None:
                progress(start + len(chunk))
        values, errors = self._blend_descriptors(means, smiles, features)
        if errors is not None:
            from chemcore.uncertainty import with_error

            spreads = with_error(spreads, errors, np.array(self.error_scale))
        values = values.tolist()
        return [
            ModelOutput(row, sigma if self.has_uncertainty else None)
            for row, sigma in zip(values, spreads.tolist())
        ]

    @property
    def descriptor_names(self) -> list[str] | None:
        """What `descriptor_rows` computes for the descriptor model (None: it has none)."""
        return None if self.descriptor_model is None else list(self.descriptor_model.descriptors)

    def member_values(self, smiles: list[str], *, batch_size: int = 64):
        """(members, n, outputs) NumPy array of each member's own values, in input order: what
        training fits the blends and the uncertainty on (training.pipeline.calibrate)."""
        import numpy as np

        texts = [self.model_text(item) for item in smiles]
        lengths = [len(ids) for ids in self.tokenizer(texts, truncation=False)["input_ids"]]
        order = sorted(range(len(smiles)), key=lengths.__getitem__)
        out = np.zeros((len(self.configs), len(smiles), self.configs[0].num_labels))
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            out[:, chunk, :] = self._member_outputs([texts[i] for i in chunk], truncate=True)
        return out

    def _blend_descriptors(self, mean, smiles: list[str], features=None):
        """(1 - beta) * member mean + beta * descriptor model, per output (beta 0: unchanged),
        the descriptor model being the trees mixed with the descriptor network and the graph
        network where it has them,
        and the error model's predicted |error| per output (None without one). Descriptors
        are computed from the SMILES as given: the canonical SMILES, as in training (or handed
        over by `features()`, computed the same way elsewhere)."""
        if self.descriptor_model is None:
            return mean, None
        from chemcore.descriptor_model import blend, error_rows
        from chemcore.descriptors import from_smiles

        if features is not None:
            rows = features()
        else:
            rows = from_smiles(smiles, self.descriptor_model.descriptors)
        trees = self.descriptor_model.predict(rows)
        errors = None
        on_mix = self.manifest.error_value == contract.ERROR_ON_MIX
        if self.error_model is not None and not on_mix:  # fitted on the trees' values
            errors = self.error_model.predict(error_rows(rows, trees))
        if self.descriptor_mlp is not None:
            from chemcore import descriptor_mlp

            trees = descriptor_mlp.blend(trees, self.descriptor_mlp.predict(rows), self.mlp_weight)
        if self.graph_network is not None:
            from chemcore import descriptor_mlp

            trees = descriptor_mlp.blend(
                trees, self.graph_network.predict(smiles), self.graph_weight
            )
        if self.error_model is not None and on_mix:  # fitted on the mixed value's errors
            errors = self.error_model.predict(error_rows(rows, trees))
        return blend(mean, trees, self.descriptor_weight), errors

    def _member_outputs(self, texts: list[str], *, truncate: bool = False):
        """(members, batch, labels) float64 NumPy array: each member's values (logits, or
        probabilities for a classifier) for texts already read as the network reads them."""
        import numpy as np

        if self.engine == "numpy":
            encoded = self.tokenizer(texts, padding=True, truncation=truncate, return_tensors="np")
            logits = self._stacked(encoded["input_ids"], encoded["attention_mask"])
        else:
            import torch

            encoded = self.tokenizer(texts, padding=True, truncation=truncate, return_tensors="pt")
            with torch.inference_mode():
                if self._stacked is not None:
                    found = self._stacked(
                        encoded["input_ids"],
                        encoded["attention_mask"],
                        encoded.get("token_type_ids"),
                    )
                else:
                    found = torch.stack([m(**encoded).logits for m in self.models])
            logits = found.numpy()
        logits = logits.astype(np.float64)
        if self.kind == SINGLE_LABEL:
            shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
            return shifted / shifted.sum(axis=-1, keepdims=True)
        if self.kind == MULTI_LABEL:
            return 1.0 / (1.0 + np.exp(-logits))
        return logits

    @property
    def value_kind(self) -> str:
        return "regression" if self.kind == REGRESSION else "probability"
