"""Loading a Hugging Face checkpoint directory and predicting with it.

The only module that imports torch/transformers. One `Predictor` per process, built
lazily on first use (never before gunicorn forks), guarded by a lock so concurrent
threads share it. Output kind, labels, units and ranges come from the checkpoint's config.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REGRESSION = "regression"
SINGLE_LABEL = "single_label_classification"
MULTI_LABEL = "multi_label_classification"


class SmilesTooLong(ValueError):
    """The SMILES has more tokens than the model accepts; we refuse rather than truncate."""


@dataclass(frozen=True)
class OutputSpec:
    label: str
    unit: str = ""
    range: dict | None = None  # {"min", "max", "p05", "p95"} of the training targets


def _weights_hash(directory: Path) -> str:
    digest = hashlib.sha256()
    files = sorted(directory.glob("*.safetensors")) or sorted(directory.glob("*.bin"))
    if not files:
        raise FileNotFoundError(f"No weights (*.safetensors or *.bin) in {directory}")
    for path in files:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


class Predictor:
    """A sequence-classification/regression checkpoint, ready for batched inference."""

    def __init__(self, directory: Path | str, *, threads: int | None = None) -> None:
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        if threads:
            torch.set_num_threads(threads)
        self.directory = Path(directory)
        self.weights_hash = _weights_hash(self.directory)  # fails first, and clearly
        self.tokenizer = AutoTokenizer.from_pretrained(self.directory)
        self.model = AutoModelForSequenceClassification.from_pretrained(self.directory)
        self.model.eval()
        config = self.model.config
        self.name = getattr(config, "model_display_name", None) or self.directory.name
        self.version = str(getattr(config, "model_version", "") or self.weights_hash[:12])
        self.kind = config.problem_type or (REGRESSION if config.num_labels == 1 else SINGLE_LABEL)
        self.max_tokens = self._max_tokens()
        units = list(getattr(config, "output_units", None) or [])
        ranges = list(getattr(config, "output_ranges", None) or [])
        id2label = config.id2label or {}
        self.outputs = [
            OutputSpec(
                label=str(id2label.get(i, f"Output {i}")),
                unit=units[i] if i < len(units) else "",
                range=ranges[i] if i < len(ranges) else None,
            )
            for i in range(config.num_labels)
        ]

    def _max_tokens(self) -> int:
        limits = [getattr(self.model.config, "max_position_embeddings", None)]
        tokenizer_limit = getattr(self.tokenizer, "model_max_length", None)
        if tokenizer_limit and tokenizer_limit < 1_000_000:  # HF's "no limit" sentinel is huge
            limits.append(tokenizer_limit)
        return min(limit for limit in limits if limit) if any(limits) else 512

    def token_count(self, smiles: str) -> int:
        return len(self.tokenizer(smiles, truncation=False)["input_ids"])

    def check_length(self, smiles: str) -> None:
        count = self.token_count(smiles)
        if count > self.max_tokens:
            raise SmilesTooLong(
                f"SMILES is too long for the model: {count} tokens, the model reads at most "
                f"{self.max_tokens}. It is refused rather than silently truncated."
            )

    def predict(self, smiles: list[str], *, batch_size: int = 64) -> list[list[float]]:
        """Predict each SMILES; returns one list of floats per input, in input order."""
        import torch

        lengths = [len(ids) for ids in self.tokenizer(smiles, truncation=False)["input_ids"]]
        for item, count in zip(smiles, lengths):
            if count > self.max_tokens:
                self.check_length(item)
        # Sort by length so each batch pads little, then restore input order.
        order = sorted(range(len(smiles)), key=lengths.__getitem__)
        results: list[list[float]] = [[] for _ in smiles]
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                chunk = order[start : start + batch_size]
                encoded = self.tokenizer(
                    [smiles[i] for i in chunk], padding=True, return_tensors="pt"
                )
                logits = self.model(**encoded).logits.float()
                values = self._postprocess(logits)
                for row, index in zip(values.tolist(), chunk):
                    results[index] = row
        return results

    def _postprocess(self, logits):
        import torch

        if self.kind == SINGLE_LABEL:
            return torch.softmax(logits, dim=-1)
        if self.kind == MULTI_LABEL:
            return torch.sigmoid(logits)
        return logits

    @property
    def value_kind(self) -> str:
        return "regression" if self.kind == REGRESSION else "probability"


_predictor: Predictor | None = None
_lock = threading.Lock()


def get_predictor() -> Predictor:
    """The process-wide predictor for settings.PREDICTION_MODEL_DIR, loaded on first use."""
    global _predictor
    if _predictor is None:
        with _lock:
            if _predictor is None:
                from django.conf import settings

                _predictor = Predictor(
                    settings.PREDICTION_MODEL_DIR, threads=settings.TORCH_THREADS
                )
    return _predictor
