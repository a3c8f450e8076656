"""A small multi-task network on the descriptor row, beside the descriptor trees.

The descriptor model's value per output is (1 - g) * trees + g * this network's (g fitted on
validation, in the manifest), before the members are blended in (chemcore.descriptor_model)
and before read-across. Its errors differ enough from the trees' (correlation about 0.87) that
the mix lowered validation RMSE by 1-3 % for five of the seven outputs
(docs/studies/v3.2-descriptor-mlp.md).

The network is a mean of a few plain multilayer perceptrons (ReLU) trained with PyTorch at
training time; the weights are stored in one safetensors file, in float16, and evaluated here
with NumPy in float32, so serving needs neither torch nor pickle. The input is the descriptor
model's own row: RDKit descriptors clipped to their training 1st-99th percentiles and
standardised (missing: the mean), Morgan counts as log(1 + count).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FORMAT = "smiles-site-descriptor-mlp/1"
# All metadata sits in one header entry, a JSON string with sorted keys: safetensors writes
# its metadata map in no fixed order, and one entry keeps the file the same byte for byte.
META_KEY = "smiles_site"


@dataclass
class DescriptorMLP:
    descriptors: list[str]  # the row's columns (those of the descriptor trees)
    scaled: int  # the first `scaled` columns are clipped and standardised, the rest log1p
    clip_low: np.ndarray
    clip_high: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    target_mean: np.ndarray  # (outputs,): the networks learn standardised targets
    target_std: np.ndarray
    nets: list[list[tuple[np.ndarray, np.ndarray]]]  # per net: (weight (in, out), bias) layers

    def inputs(self, rows: np.ndarray) -> np.ndarray:
        """The networks' input for descriptor rows (n, columns)."""
        rows = np.asarray(rows, dtype=np.float64)
        head = rows[:, : self.scaled]
        head = np.where(np.isfinite(head), head, np.nan)
        z = (np.clip(head, self.clip_low, self.clip_high) - self.mean) / self.std
        counts = np.log1p(np.maximum(np.nan_to_num(rows[:, self.scaled :]), 0.0))
        return np.column_stack([np.nan_to_num(z), counts]).astype(np.float32)

    def predict(self, rows: np.ndarray) -> np.ndarray:
        """(n, outputs) values in the targets' units: the mean of the nets."""
        x = self.inputs(rows)
        # A few rows (a web request's molecule) leave most inputs zero (Morgan bits, fragment
        # counts: ~190 of 1,224 set): the first layer then reads only the weight rows of the
        # set ones, 1.7x faster for one molecule; a zero adds nothing (values agree to ~1e-6).
        used = np.flatnonzero(x.any(axis=0))
        few = len(used) < x.shape[1] // 2
        if few:
            x = np.ascontiguousarray(x[:, used])
        total = np.zeros((len(x), len(self.target_mean)), dtype=np.float32)
        for layers in self.nets:
            h = x
            for i, (w, b) in enumerate(layers):
                h = h @ (w[used] if few and i == 0 else w) + b
                if i < len(layers) - 1:
                    h = np.maximum(h, 0.0)
            total += h
        mean = total.astype(np.float64) / len(self.nets)
        return mean * self.target_std + self.target_mean


def blend(trees: np.ndarray, mlp: np.ndarray, weights) -> np.ndarray:
    """(1 - g) * trees + g * mlp per output (g 0: the trees unchanged; NaN trees stay NaN)."""
    g = np.asarray(weights, dtype=np.float64)
    return np.where(g > 0, (1.0 - g) * trees + g * mlp, trees)


def write(path: Path | str, model: DescriptorMLP) -> None:
    from safetensors.numpy import save_file

    tensors = {
        "clip_low": model.clip_low.astype(np.float32),
        "clip_high": model.clip_high.astype(np.float32),
        "mean": model.mean.astype(np.float32),
        "std": model.std.astype(np.float32),
        "target_mean": model.target_mean.astype(np.float64),
        "target_std": model.target_std.astype(np.float64),
    }
    for k, layers in enumerate(model.nets):
        for i, (w, b) in enumerate(layers):
            tensors[f"net{k}.layer{i}.weight"] = np.ascontiguousarray(w, dtype=np.float16)
            tensors[f"net{k}.layer{i}.bias"] = np.ascontiguousarray(b, dtype=np.float16)
    info = {
        "format": FORMAT,
        "descriptors": model.descriptors,
        "scaled": model.scaled,
        "nets": len(model.nets),
        "layers": len(model.nets[0]) if model.nets else 0,
    }
    save_file(tensors, str(path), metadata={META_KEY: json.dumps(info, sort_keys=True)})


def read(path: Path | str) -> DescriptorMLP:
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as handle:
        meta = json.loads((handle.metadata() or {}).get(META_KEY) or "{}")
        if meta.get("format") != FORMAT:
            raise ValueError(f"{path}: unknown descriptor network format {meta.get('format')!r}")
        get = handle.get_tensor
        nets = [
            [
                (
                    get(f"net{k}.layer{i}.weight").astype(np.float32),
                    get(f"net{k}.layer{i}.bias").astype(np.float32),
                )
                for i in range(int(meta["layers"]))
            ]
            for k in range(int(meta["nets"]))
        ]
        return DescriptorMLP(
            descriptors=list(meta["descriptors"]),
            scaled=int(meta["scaled"]),
            clip_low=get("clip_low").astype(np.float64),
            clip_high=get("clip_high").astype(np.float64),
            mean=get("mean").astype(np.float64),
            std=get("std").astype(np.float64),
            target_mean=get("target_mean"),
            target_std=get("target_std"),
            nets=nets,
        )
