"""The checkpoint directory contract between training and serving.

A checkpoint is either a plain Hugging Face sequence-classification/regression directory
(config.json, *.safetensors, tokenizer files) or an ensemble directory: `ensemble.json`
naming member sub-directories, each a plain HF directory loadable on its own by
`AutoModelForSequenceClassification`. The ensemble's prediction is the member mean, blended
with a descriptor model (chemcore.descriptor_model, its trees mixed with a small network on
the same row, chemcore.descriptor_mlp, and with a network on the molecular graph,
chemcore.graph_network) and then with its nearest measured
molecules (chemcore.readacross) where the manifest says so, and its
uncertainty the calibrated member standard deviation plus a distance term
(chemcore.uncertainty).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

# Files at the top of a checkpoint directory.
ENSEMBLE_MANIFEST = "ensemble.json"
TRAINING_SET = (
    "training_set.csv"  # columns: smiles, then one per output (id2label), blank = unmeasured
)
CARD = "README.md"
METRICS = "metrics.json"
DESCRIPTOR_MODEL = "descriptor_model.json"  # chemcore.descriptor_model, when the manifest blends it
DESCRIPTOR_MLP = "descriptor_mlp.safetensors"  # chemcore.descriptor_mlp, beside the trees
GRAPH_NETWORK = "graph_network.safetensors"  # chemcore.graph_network, beside them
ERROR_MODEL = "error_model.json"  # trees predicting the error's size (chemcore.uncertainty)
ERROR_ON_TREES, ERROR_ON_MIX = "trees", "mix"  # EnsembleManifest.error_value
MEMBER_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")

# Extra keys in each (member's) config.json, read by the site.
KEY_UNITS = "output_units"  # list[str], one per output
KEY_RANGES = "output_ranges"  # list[{min, max, p05, p95}] of the training targets
KEY_TEST_METRICS = "test_metrics"  # label -> {rmse, mae, r2, rmse_ci95, n, ...}
KEY_DISPLAY_NAME = "model_display_name"
KEY_VERSION = "model_version"
KEY_TRAINING_DATA = "training_data"
# Optional, one per output (older checkpoints lack them; the site then shows less):
KEY_DESCRIPTIONS = "output_descriptions"  # one line for a chemist: what it measures
KEY_FAVOURABLE = "output_favourable"  # "higher", "lower" or "" (a range, or no preference)
KEY_GROUPS = "output_groups"  # e.g. "Physical chemistry", "ADME"
KEY_LINEAR_UNITS = "output_linear_units"  # unit of 10**value for a log output, else ""

MANIFEST_FORMAT = "smiles-site-ensemble/1"


@dataclass(frozen=True)
class EnsembleManifest:
    """`ensemble.json`: member directories (relative) and the uncertainty calibration."""

    members: list[str]
    # Per-output factor on the member std, fitted on validation only (1.0 = uncalibrated).
    uncertainty_scale: list[float] = field(default_factory=list)
    # Per-output factor on (1 - nearest training similarity), see chemcore.uncertainty; empty
    # (older checkpoints) means the member spread alone.
    distance_scale: list[float] = field(default_factory=list)
    method: str = "deep ensemble: member standard deviation"
    # Per-output read-across (chemcore.readacross): weight and power of the blend with the
    # nearest measured molecules; empty (older checkpoints) or weight 0 means the model alone.
    read_across_weight: list[float] = field(default_factory=list)
    read_across_power: list[float] = field(default_factory=list)
    read_across_k: int = 5

    # Per-output weight of the descriptor model (chemcore.descriptor_model, in the file named
    # here) in the value, blended before read-across; empty or 0 means the members alone.
    descriptor_weight: list[float] = field(default_factory=list)
    descriptor_model: str = DESCRIPTOR_MODEL
    # Per-output weight of the descriptor network (chemcore.descriptor_mlp, in the file named
    # here) in the descriptor model's value: (1 - g) * trees + g * network; empty or 0 means
    # the trees alone.
    mlp_weight: list[float] = field(default_factory=list)
    descriptor_mlp: str = DESCRIPTOR_MLP
    # Per-output weight of the graph network (chemcore.graph_network, in the file named here),
    # mixed in after the descriptor network: (1 - h) * descriptors + h * graph; empty or 0
    # means none.
    graph_weight: list[float] = field(default_factory=list)
    graph_network: str = GRAPH_NETWORK

    # Per-output factor on the error model's predicted |error| (chemcore.uncertainty), in the
    # file named here; empty or 0 means no such term.
    error_scale: list[float] = field(default_factory=list)
    error_model: str = ERROR_MODEL
    # Which value the error model reads beside the descriptor row (its "TreesValue:<t>" column)
    # and was fitted to the errors of: ERROR_ON_TREES, the descriptor trees alone (checkpoints
    # before v3.4.0), or ERROR_ON_MIX, the trees mixed with the descriptor and graph networks.
    error_value: str = ERROR_ON_TREES

    # The verdicts' per-output rules (chemcore.domain), chosen on validation: the output's
    # typical uncertainty (σ's root mean square over the validation molecules), the unit the
    # uncertainty rule measures σ in, and the nearest-neighbour similarity below which a
    # prediction is "use with care" (0: none, where σ already grows enough for such
    # molecules). Empty (older checkpoints): each output's test RMSE and
    # chemcore.domain.Thresholds' cut.
    typical_uncertainty: list[float] = field(default_factory=list)
    similarity_care: list[float] = field(default_factory=list)

    @property
    def reads_across(self) -> bool:
        return any(self.read_across_weight)

    @property
    def blends_descriptors(self) -> bool:
        return any(self.descriptor_weight)

    @property
    def blends_mlp(self) -> bool:
        return self.blends_descriptors and any(self.mlp_weight)

    @property
    def blends_graph(self) -> bool:
        return self.blends_descriptors and any(self.graph_weight)

    @property
    def models_error(self) -> bool:
        return any(self.error_scale)

    def to_json(self) -> str:
        data = {
            "format": MANIFEST_FORMAT,
            "members": self.members,
            "uncertainty": {
                "method": self.method,
                "scale": self.uncertainty_scale,
                "distance_scale": self.distance_scale,
            },
        }
        if self.models_error:
            data["uncertainty"]["error_model"] = {
                "file": self.error_model,
                "scale": self.error_scale,
            }
            if self.error_value != ERROR_ON_TREES:  # older readers never see a key they lack
                data["uncertainty"]["error_model"]["value"] = self.error_value
        if self.typical_uncertainty or self.similarity_care:
            data["verdict"] = {
                "typical_uncertainty": self.typical_uncertainty,
                "similarity_care": self.similarity_care,
            }
        if self.blends_descriptors:
            data["descriptor_blend"] = {
                "file": self.descriptor_model,
                "weight": self.descriptor_weight,
            }
            if self.blends_mlp:
                data["descriptor_blend"]["network"] = {
                    "file": self.descriptor_mlp,
                    "weight": self.mlp_weight,
                }
            if self.blends_graph:
                data["descriptor_blend"]["graph"] = {
                    "file": self.graph_network,
                    "weight": self.graph_weight,
                }
        if self.reads_across:
            data["read_across"] = {
                "k": self.read_across_k,
                "weight": self.read_across_weight,
                "power": self.read_across_power,
            }
        return json.dumps(data, indent=2)


def read_manifest(directory: Path | str) -> EnsembleManifest | None:
    """The directory's ensemble manifest, or None for a plain single checkpoint."""
    path = Path(directory) / ENSEMBLE_MANIFEST
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    if data.get("format") != MANIFEST_FORMAT:
        raise ValueError(f"{path}: unknown ensemble format {data.get('format')!r}")
    members = [str(m) for m in data.get("members") or []]
    if not members:
        raise ValueError(f"{path}: an ensemble needs at least one member")
    unc = data.get("uncertainty") or {}
    errors = unc.get("error_model") or {}
    across = data.get("read_across") or {}
    trees = data.get("descriptor_blend") or {}
    network = trees.get("network") or {}
    graph = trees.get("graph") or {}
    verdict = data.get("verdict") or {}
    weights = [float(w) for w in across.get("weight") or []]
    powers = [float(p) for p in across.get("power") or []]
    if len(powers) != len(weights):
        raise ValueError(f"{path}: read_across needs one power per weight")
    return EnsembleManifest(
        members=members,
        uncertainty_scale=[float(s) for s in unc.get("scale") or []],
        distance_scale=[float(s) for s in unc.get("distance_scale") or []],
        method=str(unc.get("method") or EnsembleManifest.method),
        read_across_weight=weights,
        read_across_power=powers,
        read_across_k=int(across.get("k") or 5),
        descriptor_weight=[float(w) for w in trees.get("weight") or []],
        descriptor_model=str(trees.get("file") or DESCRIPTOR_MODEL),
        mlp_weight=[float(w) for w in network.get("weight") or []],
        descriptor_mlp=str(network.get("file") or DESCRIPTOR_MLP),
        graph_weight=[float(w) for w in graph.get("weight") or []],
        graph_network=str(graph.get("file") or GRAPH_NETWORK),
        error_scale=[float(s) for s in errors.get("scale") or []],
        error_model=str(errors.get("file") or ERROR_MODEL),
        error_value=_error_value(path, errors.get("value") or ERROR_ON_TREES),
        typical_uncertainty=[float(e) for e in verdict.get("typical_uncertainty") or []],
        similarity_care=[float(c) for c in verdict.get("similarity_care") or []],
    )


def _error_value(path: Path, value: str) -> str:
    if value not in (ERROR_ON_TREES, ERROR_ON_MIX):
        raise ValueError(f"{path}: unknown error model value {value!r}")
    return value


def write_manifest(directory: Path | str, manifest: EnsembleManifest) -> None:
    (Path(directory) / ENSEMBLE_MANIFEST).write_text(manifest.to_json() + "\n")
