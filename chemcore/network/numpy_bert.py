"""The stacked BERT ensemble served without torch or transformers (issue #24's memory goal).

A web worker that only predicts need not hold torch (~190 MB) and transformers' modules: plain
float32 `BertForSequenceClassification` members are read with safetensors' NumPy loader, the
tokenizer with the `tokenizers` library from the same tokenizer.json, the config from
config.json, and the forward below does stacked_bert.py's arithmetic in NumPy. Anything
else (another architecture, a slow tokenizer, defaults left to transformers) is not taken here:
chemcore.network falls back to the torch engines, so any Hugging Face checkpoint still loads.
Results equal the torch engine's to float32 rounding (~1e-6; tests/chemcore/test_numpy_bert.py).
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np

# Member-token rows per sub-batch, as in chemcore.network.stacked_bert.
ROWS = 512

SHAPE_KEYS = (
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "max_position_embeddings",
    "vocab_size",
    "type_vocab_size",
    "num_labels",
    "layer_norm_eps",
)
LAYER_KEYS = (
    "attention.self.query",
    "attention.self.key",
    "attention.self.value",
    "attention.output.dense",
    "attention.output.LayerNorm",
    "intermediate.dense",
    "output.dense",
    "output.LayerNorm",
)
# Tokenizer classes that are tokenizer.json and nothing more (no Python-side normalisation).
PLAIN_TOKENIZERS = ("TokenizersBackend", "PreTrainedTokenizerFast")


def config_supported(config, first) -> bool:
    """A BERT whose eval-mode forward the stacked engines reproduce, shaped like `first`."""
    if config.model_type != "bert" or config.hidden_act != "gelu":
        return False
    if getattr(config, "is_decoder", False):
        return False
    if getattr(config, "position_embedding_type", "absolute") != "absolute":
        return False
    return all(getattr(config, key) == getattr(first, key) for key in SHAPE_KEYS)


def expected_keys(config) -> set[str]:
    """The parameter names of a BertForSequenceClassification with this config (with pooler)."""
    keys = {
        f"bert.embeddings.{name}.weight"
        for name in ("word_embeddings", "position_embeddings", "token_type_embeddings")
    }
    keys |= {"bert.embeddings.LayerNorm.weight", "bert.embeddings.LayerNorm.bias"}
    for i in range(config.num_hidden_layers):
        for name in LAYER_KEYS:
            keys |= {f"bert.encoder.layer.{i}.{name}.weight", f"bert.encoder.layer.{i}.{name}.bias"}
    keys |= {"bert.pooler.dense.weight", "bert.pooler.dense.bias"}
    keys |= {"classifier.weight", "classifier.bias"}
    return keys


class JsonConfig:
    """config.json's keys as attributes, read as transformers would for what the site uses
    (id2label keys as ints); `complete` says whether every key the engine needs was written
    out rather than left to transformers' defaults."""

    DEFAULTS = {
        "problem_type": None,
        "is_decoder": False,
        "position_embedding_type": "absolute",
        "id2label": None,
        "architectures": None,
    }

    def __init__(self, path: Path) -> None:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if "num_labels" not in data and isinstance(data.get("id2label"), dict):
            data["num_labels"] = len(data["id2label"])
        if isinstance(data.get("id2label"), dict):
            data["id2label"] = {int(k): v for k, v in data["id2label"].items()}
        elif "num_labels" in data:  # transformers' default names
            data["id2label"] = {i: f"LABEL_{i}" for i in range(int(data["num_labels"]))}
        self.complete = all(key in data for key in (*SHAPE_KEYS, "model_type", "hidden_act"))
        for key, value in {**self.DEFAULTS, **data}.items():
            setattr(self, key, value)


def plain_bert_files(configs: list, state_dicts: list[dict]) -> bool:
    """True when each member is a float32 BertForSequenceClassification holding exactly its
    parameters (nothing for transformers to initialise at random, nothing renamed)."""
    first = configs[0]
    for config, tensors in zip(configs, state_dicts, strict=True):
        if list(getattr(config, "architectures", None) or []) != ["BertForSequenceClassification"]:
            return False
        if str(getattr(config, "dtype", None) or "float32").replace("torch.", "") != "float32":
            return False
        if not config_supported(config, first) or set(tensors) != expected_keys(config):
            return False
        if any(str(t.dtype) not in ("float32", "torch.float32") for t in tensors.values()):
            return False
    return True


class Tokenizer:
    """What chemcore.network asks of a Hugging Face fast tokenizer, from tokenizer.json through
    the `tokenizers` library (transformers' AutoTokenizer imports torch): special tokens by the
    file's post-processor, right padding with the pad token, no truncation."""

    def __init__(self, directory: Path) -> None:
        from tokenizers import Tokenizer as Backend

        self.directory = Path(directory)
        settings = json.loads((self.directory / "tokenizer_config.json").read_text("utf-8"))
        self.backend_tokenizer = Backend.from_file(str(self.directory / "tokenizer.json"))
        self.backend_tokenizer.no_truncation()
        self.backend_tokenizer.no_padding()
        self.model_max_length = int(settings.get("model_max_length") or 1_000_000_000_000)
        self.unk_token_id = self._id(settings.get("unk_token"))
        self.pad_token_id = self._id(settings.get("pad_token")) or 0
        self.vocab_size = self.backend_tokenizer.get_vocab_size(with_added_tokens=False)
        self._truncator = None

    @classmethod
    def supports(cls, directory: Path) -> bool:
        """tokenizer.json holds the whole tokenizer (a plain fast tokenizer, right padding)."""
        try:
            settings = json.loads((Path(directory) / "tokenizer_config.json").read_text("utf-8"))
        except (OSError, ValueError):
            return False
        return (
            (Path(directory) / "tokenizer.json").exists()
            and settings.get("tokenizer_class") in PLAIN_TOKENIZERS
            and settings.get("padding_side", "right") == "right"
            and isinstance(settings.get("pad_token"), str)
            and isinstance(settings.get("unk_token"), (str, type(None)))
        )

    def _id(self, token) -> int | None:
        return None if not isinstance(token, str) else self.backend_tokenizer.token_to_id(token)

    def _truncating(self):
        """A copy of the tokenizer that cuts at model_max_length, special tokens kept."""
        if self._truncator is None:
            from tokenizers import Tokenizer as Backend

            self._truncator = Backend.from_str(self.backend_tokenizer.to_str())
            self._truncator.enable_truncation(min(self.model_max_length, 1_000_000))
        return self._truncator

    def get_vocab(self) -> dict[str, int]:
        return self.backend_tokenizer.get_vocab(with_added_tokens=True)

    def save_pretrained(self, directory) -> None:
        for name in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copyfile(self.directory / name, Path(directory) / name)

    def __call__(
        self,
        texts,
        *,
        add_special_tokens: bool = True,
        padding: bool = False,
        truncation: bool = False,
        return_offsets_mapping: bool = False,
        return_tensors: str | None = None,
    ) -> dict:
        """As HF's tokenizer call: ids (and attention mask, offsets) per text, or for one text;
        `return_tensors="np"` pads to the longest and gives int64 arrays; `truncation` cuts at
        model_max_length."""
        single = isinstance(texts, str)
        backend = self._truncating() if truncation else self.backend_tokenizer
        encodings = backend.encode_batch(
            [texts] if single else list(texts), add_special_tokens=add_special_tokens
        )
        ids = [e.ids for e in encodings]
        out: dict = {"input_ids": ids, "attention_mask": [[1] * len(i) for i in ids]}
        if return_offsets_mapping:
            out["offset_mapping"] = [e.offsets for e in encodings]
        if padding or return_tensors:
            longest = max(map(len, ids), default=0)
            batch = np.full((len(ids), longest), self.pad_token_id, dtype=np.int64)
            mask = np.zeros((len(ids), longest), dtype=np.int64)
            for row, found in enumerate(ids):
                batch[row, : len(found)] = found
                mask[row, : len(found)] = 1
            out["input_ids"], out["attention_mask"] = batch, mask
        elif single:
            out = {key: value[0] for key, value in out.items()}
        return out


# erf as x·P(x²)/Q(x²) on [-4, 4] (Eigen's float32 rational approximation; |error| < 5e-7,
# checked against math.erf in the tests): NumPy has no erf, and SciPy would cost 26 MB.
_ERF_P = np.array(
    [
        -2.72614225801306e-10,
        2.77068142495902e-08,
        -2.10102402082508e-06,
        -5.69250639462346e-05,
        -7.34990630326855e-04,
        -2.95459980854025e-03,
        -1.60960333262415e-02,
    ],
    dtype=np.float32,
)
_ERF_Q = np.array(
    [
        -1.45660718464996e-05,
        -2.13374055278905e-04,
        -1.68282697438203e-03,
        -7.37332916720468e-03,
        -1.42647390514189e-02,
    ],
    dtype=np.float32,
)


def erf(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, np.float32(-4), np.float32(4))
    x2 = x * x
    p = _ERF_P[0] * x2
    for c in _ERF_P[1:-1]:
        p += c
        p *= x2
    p += _ERF_P[-1]
    p *= x
    q = _ERF_Q[0] * x2
    for c in _ERF_Q[1:-1]:
        q += c
        q *= x2
    q += _ERF_Q[-1]
    p /= q
    return p


def gelu(x: np.ndarray) -> np.ndarray:
    """BERT's exact (erf) GELU, in place on a fresh array."""
    out = erf(x * np.float32(1 / math.sqrt(2)))
    out += 1
    out *= x
    out *= np.float32(0.5)
    return out


def sub_batches(sizes: list[int], members: int, rows: int) -> list[tuple[slice, slice]]:
    """(molecules, tokens) cuts of a length-sorted batch: consecutive molecules while members ×
    molecules × the longest of them stays within `rows`, each cut to that longest."""
    cuts, start = [], 0
    while start < len(sizes):
        end, longest = start + 1, sizes[start]
        while end < len(sizes) and (end + 1 - start) * members * max(longest, sizes[end]) <= rows:
            longest = max(longest, sizes[end])
            end += 1
        cuts.append((slice(start, end), slice(0, longest)))
        start = end
    return cuts


class StackedWeights:
    """The members' parameters stacked member first (linear weights as (in, out)), by HF's
    names: what both stacked engines compute with (chemcore.network.stacked_bert wraps these arrays
    as torch tensors)."""

    def __init__(self, config, state_dicts: list[dict]) -> None:
        self.hidden = config.hidden_size
        self.heads = config.num_attention_heads
        self._members = state_dicts
        self.word = self._stack("bert.embeddings.word_embeddings.weight")
        self.position = self._stack("bert.embeddings.position_embeddings.weight")
        self.token_type = self._stack("bert.embeddings.token_type_embeddings.weight")
        self.emb_norm = self._pair("bert.embeddings.LayerNorm")
        self.layers = [
            self._layer(f"bert.encoder.layer.{i}.") for i in range(config.num_hidden_layers)
        ]
        self.pooler = self._linear("bert.pooler.dense")
        self.classifier = self._linear("classifier")
        del self._members  # only the stacked copies are kept

    def _stack(self, name: str, *, linear: bool = False) -> np.ndarray:
        parts = [np.asarray(m[name], dtype=np.float32) for m in self._members]
        return np.ascontiguousarray(np.stack([p.T if linear else p for p in parts]))

    def _linear(self, prefix: str) -> tuple[np.ndarray, np.ndarray]:
        return self._stack(f"{prefix}.weight", linear=True), self._stack(f"{prefix}.bias")[:, None]

    def _pair(self, prefix: str) -> tuple[np.ndarray, np.ndarray]:
        return self._stack(f"{prefix}.weight")[:, None], self._stack(f"{prefix}.bias")[:, None]

    def _layer(self, prefix: str) -> dict:
        q, k, v = (self._linear(prefix + f"attention.self.{n}") for n in ("query", "key", "value"))
        return {
            "qkv": (np.concatenate([q[0], k[0], v[0]], 2), np.concatenate([q[1], k[1], v[1]], 2)),
            "q": q,
            "kv": (np.concatenate([k[0], v[0]], 2), np.concatenate([k[1], v[1]], 2)),
            "out": self._linear(prefix + "attention.output.dense"),
            "out_norm": self._pair(prefix + "attention.output.LayerNorm"),
            "up": self._linear(prefix + "intermediate.dense"),
            "down": self._linear(prefix + "output.dense"),
            "down_norm": self._pair(prefix + "output.LayerNorm"),
        }


class NumpyBert(StackedWeights):
    """Calling it gives logits (members, batch, labels) as chemcore.network.stacked_bert.StackedBert
    does, [CLS]-only last layer included."""

    def __init__(self, config, state_dicts: list[dict]) -> None:
        super().__init__(config, state_dicts)
        self.eps = np.float32(config.layer_norm_eps)

    def _norm(self, x: np.ndarray, pair) -> np.ndarray:
        x = x - x.mean(-1, keepdims=True)
        scale = np.mean(x * x, axis=-1, keepdims=True)
        scale += self.eps
        np.sqrt(scale, out=scale)
        x /= scale
        x *= pair[0]
        x += pair[1]
        return x

    def __call__(self, input_ids, attention_mask, token_type_ids=None) -> np.ndarray:
        """Logits in sub-batches of at most ROWS member-token rows, each cut to its longest
        molecule (right padding; else each runs at the padded length)."""
        input_ids, attention_mask = np.asarray(input_ids), np.asarray(attention_mask)
        members, (batch, length) = self.word.shape[0], input_ids.shape
        lengths = attention_mask.sum(1)
        right = np.array_equal(attention_mask != 0, np.arange(length) < lengths[:, None])
        sizes = lengths.tolist() if right else [length] * batch
        types = None if token_type_ids is None else np.asarray(token_type_ids)
        parts = [
            self._forward(
                input_ids[cut], attention_mask[cut], None if types is None else types[cut]
            )
            for cut in sub_batches(sizes, members, ROWS)
        ]
        return parts[0] if len(parts) == 1 else np.concatenate(parts, 1)

    def _forward(self, input_ids, attention_mask, token_type_ids) -> np.ndarray:
        members = self.word.shape[0]
        batch, length = input_ids.shape
        x = self.word[:, input_ids]
        if token_type_ids is None:
            x += self.token_type[:, None, :1]
        else:
            x += self.token_type[:, token_type_ids]
        x += self.position[:, None, :length]
        x = self._norm(x.reshape(members, batch * length, self.hidden), self.emb_norm)
        blocked = np.where(attention_mask == 0, np.finfo(np.float32).min, 0).astype(np.float32)
        mask = blocked.reshape(1, batch, 1, 1, length)
        for index, weights in enumerate(self.layers):
            x = self._layer_forward(x, weights, mask, batch, last=index == len(self.layers) - 1)
        pooled = np.tanh(x @ self.pooler[0] + self.pooler[1])
        return pooled @ self.classifier[0] + self.classifier[1]

    def _layer_forward(self, x, weights, mask, batch: int, *, last: bool) -> np.ndarray:
        members, hidden, heads = x.shape[0], self.hidden, self.heads
        length = x.shape[1] // batch
        size = hidden // heads

        def heads_first(t: np.ndarray, rows: int) -> np.ndarray:
            """(K, B*rows, H) -> (K, B, heads, rows, head size)."""
            return t.reshape(members, batch, rows, heads, size).transpose(0, 1, 3, 2, 4)

        if last:  # the pooler reads [CLS] only: queries and what follows for it alone
            kv = _dense(x, weights["kv"])
            key, value = (
                heads_first(kv[..., :hidden], length),
                heads_first(kv[..., hidden:], length),
            )
            x = np.ascontiguousarray(x.reshape(members, batch, length, hidden)[:, :, 0])
            query, rows = heads_first(_dense(x, weights["q"]), 1), 1
        else:
            qkv = _dense(x, weights["qkv"])
            query, key, value = (
                heads_first(qkv[..., i * hidden : (i + 1) * hidden], length) for i in range(3)
            )
            rows = length
        scores = query @ key.swapaxes(-1, -2)
        scores *= np.float32(1 / math.sqrt(size))
        scores += mask
        scores -= scores.max(-1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(-1, keepdims=True)
        context = (scores @ value).transpose(0, 1, 3, 2, 4).reshape(members, batch * rows, hidden)
        x = self._norm(_dense(context, weights["out"], residual=x), weights["out_norm"])
        up = gelu(_dense(x, weights["up"]))
        return self._norm(_dense(up, weights["down"], residual=x), weights["down_norm"])


def _dense(x: np.ndarray, linear, residual=None) -> np.ndarray:
    out = x @ linear[0]
    out += linear[1]
    if residual is not None:
        out += residual
    return out
