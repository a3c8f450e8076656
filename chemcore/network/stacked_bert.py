"""All members of a BERT ensemble run as one batched forward (issue #8's speed goals).

Used by chemcore.network (numpy_bert.py does the same without torch). The checkpoints are
untouched plain HF `BertForSequenceClassification` members; at load time their weights are
stacked into one tensor per parameter (member first), and inference does the same arithmetic as
HF's eval-mode forward with each op covering every member at once (`baddbmm` instead of one
`linear` per member): one molecule pays Python/dispatch overhead once instead of once per member.
Only the [CLS] token reaches the pooler, so the last layer computes keys and values for all tokens
but queries, attention output and feed-forward for [CLS] alone. Outputs equal the per-member HF
loop to float rounding (tested in tests/chemcore/test_inference.py).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from chemcore.network.numpy_bert import (
    StackedWeights,
    expected_keys,  # noqa: F401  (callers and tests)
    sub_batches,
)
from chemcore.network.numpy_bert import config_supported as _config_supported
from chemcore.network.numpy_bert import plain_bert_files as supports_files  # noqa: F401

# Member-token rows per forward: the 5-member ensemble runs ~22 molecules of 36 tokens at a time,
# few enough for the activations to stay in cache (measured: bench/bench_inference.py).
ROWS = 4096


def supports(models: list) -> bool:
    """True when every member is an eval-mode-equivalent BERT this engine reproduces exactly."""
    first = models[0].config
    for model in models:
        if type(model).__name__ != "BertForSequenceClassification":
            return False
        if model.bert.pooler is None or model.dtype != torch.float32:
            return False
        if not _config_supported(model.config, first):
            return False
    return True


class StackedBert:
    """The members' weights stacked; calling it gives logits of shape (members, batch, labels).

    Built from the members' parameters by name (`state_dicts`: HF's names, as a loaded model's
    `state_dict()` or its model.safetensors gives them), so the site need not build the HF
    models (and import their modelling code) to serve them. The stacking is
    chemcore.network.numpy_bert's, its arrays shared as tensors."""

    def __init__(self, config, state_dicts: list[dict]) -> None:
        weights = StackedWeights(config, [_as_numpy(member) for member in state_dicts])
        self.hidden, self.heads = weights.hidden, weights.heads
        self.eps = config.layer_norm_eps
        self.word = torch.from_numpy(weights.word)
        self.position = torch.from_numpy(weights.position)
        self.token_type = torch.from_numpy(weights.token_type)
        self.emb_norm = _tensors(weights.emb_norm)
        self.layers = [
            {name: _tensors(pair) for name, pair in layer.items()} for layer in weights.layers
        ]
        self.pooler = _tensors(weights.pooler)
        self.classifier = _tensors(weights.classifier)

    @classmethod
    def from_models(cls, models: list) -> StackedBert:
        return cls(models[0].config, [m.state_dict() for m in models])

    def _layer_norm(self, x: torch.Tensor, norm: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        flat = F.layer_norm(x, (self.hidden,), eps=self.eps)
        return torch.addcmul(norm[1], flat, norm[0])

    def __call__(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Logits (members, batch, labels), computed in sub-batches of at most ROWS member-token
        rows, each cut to its own longest molecule (a batch padded to its longest pads the short
        ones; right padding only, else the batch runs at its padded length)."""
        members, (batch, length) = self.word.shape[0], input_ids.shape
        lengths = attention_mask.sum(1)
        right_padded = torch.equal(
            attention_mask.bool(), torch.arange(length) < lengths.unsqueeze(1)
        )
        sizes = lengths.tolist() if right_padded else [length] * batch
        parts = [
            self._forward(
                input_ids[cut],
                attention_mask[cut],
                None if token_type_ids is None else token_type_ids[cut],
            )
            for cut in sub_batches(sizes, members, ROWS)
        ]
        return parts[0] if len(parts) == 1 else torch.cat(parts, 1)

    def _forward(self, input_ids, attention_mask, token_type_ids) -> torch.Tensor:
        members = self.word.shape[0]
        batch, length = input_ids.shape
        x = self.word[:, input_ids]
        if token_type_ids is None:
            x = x + self.token_type[:, :1].unsqueeze(1)
        else:
            x = x + self.token_type[:, token_type_ids]
        x = x + self.position[:, :length].unsqueeze(1)
        x = self._layer_norm(x.view(members, batch * length, self.hidden), self.emb_norm)
        # Padded keys get the dtype's lowest value, as HF does; members share the mask.
        blocked = torch.zeros(attention_mask.shape, dtype=x.dtype)
        blocked.masked_fill_(attention_mask == 0, torch.finfo(x.dtype).min)
        mask = blocked.view(1, batch, 1, 1, length).expand(members, -1, -1, -1, -1)
        mask = mask.reshape(members * batch, 1, 1, length)
        for index, weights in enumerate(self.layers):
            x = self._encoder_layer(x, weights, mask, batch, last=index == len(self.layers) - 1)
        pooled = torch.tanh(torch.baddbmm(self.pooler[1], x, self.pooler[0]))
        return torch.baddbmm(self.classifier[1], pooled, self.classifier[0])

    def _encoder_layer(self, x, weights, mask, batch: int, *, last: bool) -> torch.Tensor:
        """One BERT layer; `last` keeps only [CLS] (the pooler reads nothing else)."""
        members, hidden, heads = x.shape[0], self.hidden, self.heads
        length = x.shape[1] // batch
        size = hidden // heads

        def heads_first(t: torch.Tensor, rows: int) -> torch.Tensor:
            """(K, B*rows, H) -> (K*B, heads, rows, head size), a view."""
            return t.view(members * batch, rows, heads, size).transpose(1, 2)

        if last:
            kv = _dense(x, weights["kv"])
            key, value = (
                heads_first(kv[..., :hidden], length),
                heads_first(kv[..., hidden:], length),
            )
            x = x.view(members, batch, length, hidden)[:, :, 0]
            query, rows = heads_first(_dense(x, weights["q"]), 1), 1
        else:
            qkv = _dense(x, weights["qkv"])
            query, key, value = (
                heads_first(qkv[..., i * hidden : (i + 1) * hidden], length) for i in range(3)
            )
            rows = length
        if last:
            # Written out: with more than one thread, torch's fused kernel splits a one-row query's
            # keys between threads unevenly across the batch, so identical members would differ.
            scores = torch.matmul(query, key.transpose(-1, -2)) / math.sqrt(size) + mask
            context = torch.matmul(torch.softmax(scores, -1), value)
        else:
            context = F.scaled_dot_product_attention(
                query, key, value, attn_mask=mask, scale=1 / math.sqrt(size)
            )
        context = context.transpose(1, 2).reshape(members, batch * rows, hidden)
        x = self._layer_norm(_dense(context, weights["out"], residual=x), weights["out_norm"])
        up = F.gelu(_dense(x, weights["up"]))
        return self._layer_norm(_dense(up, weights["down"], residual=x), weights["down_norm"])


def _dense(x: torch.Tensor, linear: tuple[torch.Tensor, torch.Tensor], residual=None):
    """x @ W + b (+ residual): the residual joins the bias so the sum costs one pass, not two."""
    weight, bias = linear
    return torch.baddbmm(bias if residual is None else residual + bias, x, weight)


def _as_numpy(member: dict) -> dict:
    return {
        name: t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else t
        for name, t in member.items()
    }


def _tensors(pair) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.from_numpy(pair[0]), torch.from_numpy(pair[1])
