"""Gradient-boosted trees on RDKit descriptors, stored as plain arrays in the checkpoint.

The ensemble's member mean is blended with this model's value per output,
value = (1 - beta) * member mean + beta * trees (beta fitted on validation, in the manifest),
before read-across (chemcore.readacross). Trees are fitted by scikit-learn's
HistGradientBoostingRegressor at training time and exported to JSON here, so the site needs
neither scikit-learn nor pickle (which would run code from the checkpoint) to evaluate them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FORMAT = "smiles-site-descriptor-trees/1"
# Up to this many rows, all outputs' trees are walked at once (DescriptorModel.predict).
COMBINED_ROWS = 4
FIELDS = ("feature", "threshold", "left", "right", "leaf", "missing_left", "value")


@dataclass
class Trees:
    """One output's boosted trees, every node of every tree in one set of arrays (node ids
    global), so all trees are walked at once: one NumPy step per level, not per tree."""

    baseline: float
    roots: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    leaf: np.ndarray
    missing_left: np.ndarray
    value: np.ndarray
    # One row's walk without a step per level (DescriptorModel._combined sets it on the joint
    # trees; None: the level-by-level walk serves one row too).
    masks: LeafMasks | None = None

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.baseline + self.value[self.leaves_of(X)].sum(axis=1)

    def leaves_of(self, X: np.ndarray) -> np.ndarray:
        """(n, trees) the leaf each row of X reaches in each tree (without missing values, which
        descriptors never have: `_walk`, half the time, the same leaves)."""
        X = np.asarray(X, dtype=np.float64)
        if not np.isnan(X).any():
            return self._walk(X)
        rows = np.arange(len(X))[:, None]
        node = np.broadcast_to(self.roots, (len(X), len(self.roots))).copy()
        while True:
            inner = ~self.leaf[node]
            if not inner.any():
                break
            x = X[rows, self.feature[node]]
            go_left = np.where(np.isnan(x), self.missing_left[node], x <= self.threshold[node])
            node = np.where(inner, np.where(go_left, self.left[node], self.right[node]), node)
        return node

    def _walk(self, X: np.ndarray) -> np.ndarray:
        """The walk without missing values, following only the (row, tree) pairs not yet at a
        leaf: most paths end long before the deepest tree's (depth 24 here)."""
        if self.masks is not None and len(X) == 1:
            return self.masks.leaves_of(X[0])[None, :]
        trees = len(self.roots)
        node = np.tile(self.roots, len(X))  # (row, tree) pairs, row-major
        where = np.repeat(np.arange(len(X), dtype=np.int64) * X.shape[1], trees)
        active = np.flatnonzero(~self.leaf[node])
        flat = X.ravel()
        while active.size:
            at = node[active]
            go_left = flat[where[active] + self.feature[at]] <= self.threshold[at]
            at = np.where(go_left, self.left[at], self.right[at])
            node[active] = at
            active = active[~self.leaf[at]]
        return node.reshape(len(X), trees)

    def to_dict(self) -> dict:
        data = {"baseline": self.baseline, "roots": self.roots.tolist()}
        for name in FIELDS:
            data[name] = getattr(self, name).tolist()
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Trees:
        return cls(
            baseline=float(data["baseline"]),
            roots=np.asarray(data["roots"], dtype=np.int64),
            feature=np.asarray(data["feature"], dtype=np.int64),
            threshold=np.asarray(data["threshold"], dtype=np.float64),
            left=np.asarray(data["left"], dtype=np.int64),
            right=np.asarray(data["right"], dtype=np.int64),
            leaf=np.asarray(data["leaf"], dtype=bool),
            missing_left=np.asarray(data["missing_left"], dtype=bool),
            value=np.asarray(data["value"], dtype=np.float64),
        )

    @classmethod
    def from_sklearn(cls, model) -> Trees:
        """From a fitted HistGradientBoostingRegressor (numerical features, one output), or a
        list of them (a bag): their mean, as one set of trees whose leaf values are divided by
        the bag's size, so the site walks a bag exactly as one model."""
        bag = list(model) if isinstance(model, (list, tuple)) else [model]
        parts, roots, offset = [], [], 0
        for nodes in (p.nodes for one in bag for (p,) in one._predictors):
            if nodes["is_categorical"].any():
                raise ValueError("categorical splits are not supported")
            leaf = nodes["is_leaf"].astype(bool)
            parts.append(
                (
                    nodes["feature_idx"].astype(np.int64),
                    nodes["num_threshold"].astype(np.float64),
                    np.where(leaf, 0, nodes["left"].astype(np.int64) + offset),
                    np.where(leaf, 0, nodes["right"].astype(np.int64) + offset),
                    leaf,
                    nodes["missing_go_to_left"].astype(bool),
                    np.where(leaf, nodes["value"], 0.0) / len(bag),
                )
            )
            roots.append(offset)
            offset += len(nodes)
        arrays = [np.concatenate(column) for column in zip(*parts)]
        baseline = np.mean([float(np.ravel(one._baseline_prediction)[0]) for one in bag])
        return cls(float(baseline), np.asarray(roots), *arrays)


@dataclass
class LeafMasks:
    """Every tree's leaf for one row at once, as QuickScorer finds it (Lucchese et al., SIGIR
    2015): each split the row fails (x > threshold: it goes right) rules out the leaves to the
    left of it, and a tree's leaf is the leftmost one that none of its failed splits rules
    out. All splits are tested in one step, so a web request's molecule needs no step per
    level (1.8x the level-by-level walk for the shipped trees, the same leaves)."""

    feature: np.ndarray  # the splits, tree by tree
    threshold: np.ndarray
    # per split, as bits (a tree's leaves left to right): those still possible when x > threshold
    keep: np.ndarray
    starts: np.ndarray  # each tree's first split
    leaves: np.ndarray  # the leaves' node ids, tree by tree, left to right
    first_leaf: np.ndarray  # each tree's first leaf in `leaves`

    @classmethod
    def of(cls, trees: Trees) -> LeafMasks | None:
        """None where a tree is a lone leaf or has more than 64 leaves (the walk serves them)."""
        leaf, left, right = trees.leaf, trees.left, trees.right
        tree = np.full(len(leaf), -1, dtype=np.intp)
        level = [trees.roots]
        tree[trees.roots] = np.arange(len(trees.roots))
        while True:  # every node's tree and the splits level by level, from the roots
            splits = level[-1][~leaf[level[-1]]]
            if not splits.size:
                break
            level.append(np.concatenate([left[splits], right[splits]]))
            tree[level[-1]] = np.concatenate([tree[splits], tree[splits]])
        count = leaf.astype(np.int64)  # leaves under each node, from the deepest level up
        for nodes in reversed(level):
            splits = nodes[~leaf[nodes]]
            count[splits] = count[left[splits]] + count[right[splits]]
        if leaf[trees.roots].any() or count[trees.roots].max() > 64:
            return None
        start = np.zeros(len(leaf), dtype=np.int64)  # the first leaf under each node, in its tree
        for nodes in level:
            splits = nodes[~leaf[nodes]]
            start[left[splits]] = start[splits]
            start[right[splits]] = start[splits] + count[left[splits]]
        bits = np.uint32 if count[trees.roots].max() <= 32 else np.uint64
        splits = np.flatnonzero(~leaf & (tree >= 0))
        splits = splits[np.argsort(tree[splits], kind="stable")]
        under_left = (np.uint64(1) << count[left[splits]].astype(np.uint64)) - np.uint64(1)
        keep = ~(under_left << start[left[splits]].astype(np.uint64))
        leaves = np.flatnonzero(leaf & (tree >= 0))
        leaves = leaves[np.lexsort((start[leaves], tree[leaves]))]
        ids = np.arange(len(trees.roots))
        return cls(
            feature=trees.feature[splits].astype(np.int32),
            threshold=trees.threshold[splits],
            keep=keep.astype(bits),  # the low bits: a tree has at most `bits` leaves
            starts=np.searchsorted(tree[splits], ids),
            leaves=leaves.astype(np.int32 if len(leaf) < 2**31 else np.int64),
            first_leaf=np.searchsorted(tree[leaves], ids),
        )

    def leaves_of(self, x: np.ndarray) -> np.ndarray:
        """(trees,) the leaf node each tree sends the row x (no missing values) to."""
        failed = x[self.feature] > self.threshold
        every = self.keep.dtype.type(np.iinfo(self.keep.dtype).max)
        left = np.bitwise_and.reduceat(np.where(failed, self.keep, every), self.starts)
        lowest = left & (~left + left.dtype.type(1))  # the leftmost leaf left standing
        place = np.frexp(lowest.astype(np.float64))[1] - 1  # its bit (exact for a power of 2)
        return self.leaves[self.first_leaf + place].astype(np.int64)


@dataclass
class DescriptorModel:
    """The descriptor names (chemcore.descriptors) and, per output, its trees (None: no model
    for that output, its blend weight is 0)."""

    descriptors: list[str]
    outputs: list[Trees | None]

    def predict(self, X: np.ndarray) -> np.ndarray:
        """(n, outputs); NaN for an output without trees.

        For a few rows (a web request's one molecule) every output's trees are walked together,
        one NumPy step per level for all of them, or for one row all splits in one step
        (LeafMasks); each output's leaf values are then summed as its own walk sums them, so
        the values are the same to the bit. Many rows (batches) walk each output on its own:
        the joint walk is slower there (500 rows: 280 ms against 7 × ~28).
        """
        X = np.asarray(X, dtype=np.float64)
        combined, spans = self._combined()
        if combined is None or len(X) > COMBINED_ROWS:  # many rows: each output on its own
            columns = [
                np.full(len(X), np.nan) if trees is None else trees.predict(X)
                for trees in self.outputs
            ]
            return np.stack(columns, axis=1)
        leaves = combined.value[combined.leaves_of(X)]
        columns = [
            np.full(len(X), np.nan)
            if span is None
            else trees.baseline + np.ascontiguousarray(leaves[:, span[0] : span[1]]).sum(axis=1)
            for trees, span in zip(self.outputs, spans, strict=True)
        ]
        return np.stack(columns, axis=1)

    def _combined(self):
        """All outputs' trees as one Trees (node ids shifted), and each output's span of roots."""
        cached = getattr(self, "_combined_cache", None)
        if cached is None:
            parts, spans, nodes, roots = [], [], 0, 0
            for trees in self.outputs:
                if trees is None:
                    spans.append(None)
                    continue
                shift = np.where(trees.leaf, 0, nodes)
                parts.append(
                    (
                        trees.roots + nodes,
                        trees.feature,
                        trees.threshold,
                        trees.left + shift,
                        trees.right + shift,
                        trees.leaf,
                        trees.missing_left,
                        trees.value,
                    )
                )
                spans.append((roots, roots + len(trees.roots)))
                nodes += len(trees.leaf)
                roots += len(trees.roots)
            combined = None
            if parts:
                columns = [np.concatenate(column) for column in zip(*parts)]
                combined = Trees(0.0, *columns)
                combined.masks = LeafMasks.of(combined)
                # Each output's own arrays become views of the joint ones where no node id is
                # shifted (the same values): only the shifted child ids are held twice.
                start = 0
                for trees in self.outputs:
                    if trees is None:
                        continue
                    end = start + len(trees.leaf)
                    for name in ("feature", "threshold", "leaf", "missing_left", "value"):
                        setattr(trees, name, getattr(combined, name)[start:end])
                    start = end
            cached = self._combined_cache = (combined, spans)
        return cached

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": FORMAT,
                "descriptors": self.descriptors,
                "outputs": [None if t is None else t.to_dict() for t in self.outputs],
            },
            separators=(",", ":"),
        )


def blend(values: np.ndarray, trees: np.ndarray, weights) -> np.ndarray:
    """(1 - beta) * values + beta * trees, per output (columns; beta 0 or missing: unchanged,
    and an output without trees, NaN, is left as it was)."""
    values = np.asarray(values, dtype=np.float64)
    beta = np.zeros(values.shape[-1])
    beta[: len(weights)] = weights
    beta = np.where(np.isnan(trees).all(axis=0), 0.0, beta) if np.ndim(trees) == 2 else beta
    return (1.0 - beta) * values + beta * np.nan_to_num(trees)


# An error model (chemcore.uncertainty) is a DescriptorModel whose columns are the descriptor
# model's, then one per output: that output's descriptor-model value ("TreesValue:<t>").
TREES_VALUE_PREFIX = "TreesValue:"


def error_columns(descriptors: list[str], outputs: int) -> list[str]:
    return [*descriptors, *(f"{TREES_VALUE_PREFIX}{t}" for t in range(outputs))]


def error_rows(rows: np.ndarray, trees: np.ndarray) -> np.ndarray:
    """An error model's input: the descriptor rows beside the descriptor model's values (an
    output without trees: 0)."""
    return np.column_stack([np.asarray(rows, np.float64), np.nan_to_num(trees)])


def read(path: Path | str) -> DescriptorModel:
    data = json.loads(Path(path).read_text())
    if data.get("format") != FORMAT:
        raise ValueError(f"{path}: unknown descriptor model format {data.get('format')!r}")
    model = DescriptorModel(
        descriptors=[str(name) for name in data["descriptors"]],
        outputs=[None if t is None else Trees.from_dict(t) for t in data["outputs"]],
    )
    model._combined()  # built now, sharing the outputs' arrays (not on a first request)
    return model


def write(path: Path | str, model: DescriptorModel) -> None:
    Path(path).write_text(model.to_json() + "\n")
