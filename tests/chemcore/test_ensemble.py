"""Ensemble checkpoints (chemcore's contract): member mean as value, scaled member std as
uncertainty, stored with every prediction (form and batch) and shown beside the value.

The ensembles are built here from copies of the shipped checkpoint; one member gets its
regression head nudged (saved with safetensors) so that the members disagree.
"""

import csv
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from chemcore.checkpoint import EnsembleManifest, read_manifest, write_manifest
from chemcore.descriptors import from_smiles
from chemcore.network import Network
from chemreport.units import output_decimals
from predictions.serving import reset_model

SHIPPED = Path(__file__).resolve().parents[2] / "checkpoints" / "default"
# A plain checkpoint to build from: the shipped one, or its first member if it is an ensemble.
_MANIFEST = read_manifest(SHIPPED)
PLAIN = SHIPPED / _MANIFEST.members[0] if _MANIFEST else SHIPPED
SCALE = [2.0, 0.5, 1.5, 0.8, 1.2, 1.0, 0.7][
    : len(json.loads((PLAIN / "config.json").read_text())["id2label"])
]
MOLECULES = [
    "CCO",
    "c1ccc2cc3ccccc3cc2c1",
    "CC(=O)Oc1ccccc1C(=O)O",
    "OC[C@H]1OC(O)[C@H](O)[C@@H](O)[C@@H]1O",
]


def _member(directory: Path, *, nudge: float = 0.0, seed: int = 0) -> Path:
    """A copy of the shipped checkpoint; `nudge` adds seeded noise to the regression head."""
    shutil.copytree(PLAIN, directory)
    if nudge:
        weights = load_file(directory / "model.safetensors")
        generator = torch.Generator().manual_seed(seed)
        for key in ("classifier.weight", "classifier.bias"):
            noise = torch.randn(weights[key].shape, generator=generator) * nudge
            weights[key] = weights[key] + noise
        save_file(weights, directory / "model.safetensors", metadata={"format": "pt"})
    return directory


def _ensemble(root: Path, nudges: list[float], scale: list[float] | None = None) -> Path:
    names = [f"member_{i}" for i in range(len(nudges))]
    for i, (name, nudge) in enumerate(zip(names, nudges)):
        _member(root / name, nudge=nudge, seed=i)
    write_manifest(root, EnsembleManifest(members=names, uncertainty_scale=scale or []))
    return root


def _member_logits(directory: Path, smiles: list[str]) -> np.ndarray:
    """Each member run on its own with plain transformers: the independent reference."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(directory)
    model = AutoModelForSequenceClassification.from_pretrained(directory).eval()
    rows = []
    with torch.no_grad():
        for text in smiles:  # one at a time: no padding in the reference
            rows.append(model(**tokenizer([text], return_tensors="pt")).logits[0].numpy())
    return np.array(rows, dtype=np.float64)


@pytest.fixture(scope="module")
def identical(tmp_path_factory):
    return Network(_ensemble(tmp_path_factory.mktemp("identical"), [0.0, 0.0, 0.0]))


@pytest.fixture(scope="module")
def disagreeing_dir(tmp_path_factory):
    return _ensemble(tmp_path_factory.mktemp("disagree"), [0.0, 0.05], scale=SCALE)


@pytest.fixture(scope="module")
def disagreeing(disagreeing_dir):
    return Network(disagreeing_dir)


@pytest.fixture(scope="module")
def plain():
    return Network(PLAIN)


def test_plain_checkpoint_predicts_without_uncertainty(plain):
    predictor = plain
    assert not predictor.has_uncertainty
    results = predictor.predict_with_uncertainty(MOLECULES)
    assert all(r.uncertainties is None for r in results)
    assert [r.values for r in results] == predictor.predict(MOLECULES)


def test_identical_members_give_the_member_value_and_zero_uncertainty(identical, plain):
    predictor = plain
    assert identical.has_uncertainty and len(identical.models) == 3
    results = identical.predict_with_uncertainty(MOLECULES, batch_size=3)
    for result, single in zip(results, predictor.predict(MOLECULES, batch_size=3)):
        # Zero spread to float32 rounding (the stacked engine's batched products need not give
        # bitwise-equal slices for equal members; a real spread is 1e-2 or more). The value
        # equals the plain model's to float32 rounding too.
        assert result.uncertainties == pytest.approx([0.0] * len(predictor.outputs), abs=1e-6)
        assert result.values == pytest.approx(single, rel=1e-6, abs=1e-6)
    # Labels, units, ranges, name and metrics come from member 0's config.
    assert identical.outputs == predictor.outputs
    assert identical.name == predictor.name and identical.version == predictor.version
    assert identical.test_metrics == predictor.test_metrics


def test_disagreeing_members_give_mean_and_scaled_std(disagreeing, disagreeing_dir):
    members = np.stack(
        [_member_logits(disagreeing_dir / f"member_{i}", MOLECULES) for i in range(2)]
    )
    expected_mean = members.mean(axis=0)
    expected_sigma = members.std(axis=0, ddof=0) * np.array(SCALE)
    results = disagreeing.predict_with_uncertainty(MOLECULES, batch_size=2)
    values = np.array([r.values for r in results])
    sigmas = np.array([r.uncertainties for r in results])
    assert (sigmas > 0).all()
    np.testing.assert_allclose(values, expected_mean, atol=1e-4)
    np.testing.assert_allclose(sigmas, expected_sigma, rtol=1e-3, atol=1e-6)
    assert disagreeing.predict(MOLECULES, batch_size=2) == [r.values for r in results]


def test_weights_hash_covers_every_member_in_order(identical, disagreeing, plain, tmp_path):
    assert len({identical.weights_hash, disagreeing.weights_hash, plain.weights_hash}) == 3
    root = _ensemble(tmp_path, [0.05, 0.0])  # the same two members, the other way round
    assert Network(root).weights_hash != disagreeing.weights_hash


def test_model_hash_moves_with_the_manifest(tmp_path):
    """The blend and the calibration change the values served, so stored predictions and
    cached files (keyed by this hash) must not outlive a change to them."""
    root = _ensemble(tmp_path, [0.0, 0.05], scale=SCALE)
    before = Network(root).weights_hash
    manifest = read_manifest(root)
    n = len(SCALE)
    write_manifest(
        root,
        EnsembleManifest(
            members=manifest.members,
            uncertainty_scale=manifest.uncertainty_scale,
            read_across_weight=[0.5] * n,
            read_across_power=[2.0] * n,
        ),
    )
    blended = Network(root)
    assert blended.weights_hash != before and blended.read_across == [(0.5, 2.0)] * n
    shutil.copy(SHIPPED / "training_set.csv", root / "training_set.csv")
    assert Network(root).weights_hash not in (before, blended.weights_hash)


def test_error_model_is_read_from_the_manifest_and_moves_the_hash(tmp_path):
    """An error model (chemcore.uncertainty) round-trips through ensemble.json, is loaded
    beside the descriptor model, and its file is part of the hash like the other files."""
    if not (SHIPPED / "error_model.json").exists():
        pytest.skip("the shipped checkpoint has no error model")
    root = _ensemble(tmp_path, [0.0, 0.05], scale=SCALE)
    for name in ("descriptor_model.json", "error_model.json"):
        shutil.copy(SHIPPED / name, root / name)
    n = len(SCALE)
    manifest = EnsembleManifest(
        members=read_manifest(root).members,
        uncertainty_scale=SCALE,
        descriptor_weight=[0.5] * n,
        error_scale=[0.25] * n,
    )
    write_manifest(root, manifest)
    assert read_manifest(root) == manifest
    network = Network(root)
    assert network.error_model is not None and network.error_scale == [0.25] * n
    with_errors = network.predict_with_uncertainty(["CCO", "c1ccccc1O"])
    write_manifest(root, EnsembleManifest(**{**manifest.__dict__, "error_scale": []}))
    without = Network(root).predict_with_uncertainty(["CCO", "c1ccccc1O"])
    for a, b in zip(with_errors, without):
        assert a.values == b.values  # the error model moves σ only
        assert all(x >= y for x, y in zip(a.uncertainties, b.uncertainties))
    assert any(
        x > y
        for a, b in zip(with_errors, without)
        for x, y in zip(a.uncertainties, b.uncertainties)
    )
    write_manifest(root, manifest)
    before = Network(root).weights_hash
    (root / "error_model.json").write_text((root / "error_model.json").read_text() + "\n")
    assert Network(root).weights_hash != before


def test_an_error_model_fitted_on_the_mix_reads_the_mixed_value(tmp_path):
    """error_value "mix" (since v3.4.0): the error model's value column is the descriptor value
    as mixed with the descriptor network, not the trees alone ("trees", older checkpoints), and
    the key round-trips through ensemble.json (an unknown value is refused)."""
    from chemcore import descriptor_mlp as DMLP
    from chemcore import descriptor_model as DM

    names = ("descriptor_model.json", "descriptor_mlp.safetensors", "error_model.json")
    if not all((SHIPPED / name).exists() for name in names):
        pytest.skip("the shipped checkpoint has no error model or descriptor network")
    root = _ensemble(tmp_path, [0.0, 0.05], scale=SCALE)
    for name in names:
        shutil.copy(SHIPPED / name, root / name)
    n = len(SCALE)
    g = [0.6] * n
    manifest = EnsembleManifest(
        members=read_manifest(root).members,
        uncertainty_scale=SCALE,
        descriptor_weight=[0.5] * n,
        mlp_weight=g,
        error_scale=[0.25] * n,
        error_value="mix",
    )
    write_manifest(root, manifest)
    assert (
        json.loads((root / "ensemble.json").read_text())["uncertainty"]["error_model"]["value"]
        == "mix"
    )
    assert read_manifest(root) == manifest
    smiles = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1"]
    on_mix = Network(root).predict_with_uncertainty(smiles)
    write_manifest(root, EnsembleManifest(**{**manifest.__dict__, "error_value": "trees"}))
    on_trees = Network(root).predict_with_uncertainty(smiles)
    write_manifest(root, EnsembleManifest(**{**manifest.__dict__, "error_scale": []}))
    spread = Network(root).predict_with_uncertainty(smiles)

    trees_model = DM.read(root / "descriptor_model.json")
    rows = from_smiles(smiles, trees_model.descriptors)
    trees = trees_model.predict(rows)
    mixed = DMLP.blend(trees, DMLP.read(root / "descriptor_mlp.safetensors").predict(rows), g)
    errors = DM.read(root / "error_model.json")
    for value, expected_on in ((on_mix, mixed), (on_trees, trees)):
        term = 0.25 * np.maximum(errors.predict(DM.error_rows(rows, expected_on)), 0.0)
        for i, (got, base) in enumerate(zip(value, spread)):
            assert got.values == base.values  # σ only
            want = np.sqrt(np.square(base.uncertainties) + term[i] ** 2)
            assert np.allclose(got.uncertainties, want, rtol=1e-6, atol=1e-9)
    assert any(not np.allclose(a.uncertainties, b.uncertainties) for a, b in zip(on_mix, on_trees))
    data = json.loads((root / "ensemble.json").read_text())
    data["uncertainty"]["error_model"] = {"file": "error_model.json", "scale": [0.25] * n}
    data["uncertainty"]["error_model"]["value"] = "graph"
    (root / "ensemble.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match="error model value"):
        read_manifest(root)


def test_verdict_rules_are_read_from_the_manifest_and_move_the_hash(tmp_path):
    """The verdicts' per-output rules (typical uncertainty, similarity cut) round-trip through
    ensemble.json, reach the model object's domain check and change the hash (they change
    what is stored with a prediction)."""
    from chemcore.model import Model

    root = _ensemble(tmp_path, [0.0, 0.05], scale=SCALE)
    n = len(SCALE)
    before = Network(root).weights_hash
    manifest = EnsembleManifest(
        members=read_manifest(root).members,
        uncertainty_scale=SCALE,
        typical_uncertainty=[0.25 * (i + 1) for i in range(n)],
        similarity_care=[0.0, *[0.3] * (n - 1)],
    )
    write_manifest(root, manifest)
    assert read_manifest(root) == manifest
    assert json.loads((root / "ensemble.json").read_text())["verdict"]["similarity_care"][0] == 0
    model = Model.load(root)
    assert model.weights_hash != before
    outputs = model.domain.outputs
    assert [o.typical_uncertainty for o in outputs] == manifest.typical_uncertainty
    assert [o.similarity_care for o in outputs] == manifest.similarity_care


def test_members_with_different_tokenizers_are_refused(tmp_path):
    root = _ensemble(tmp_path, [0.0, 0.0])
    data = json.loads((root / "member_1" / "tokenizer.json").read_text())
    data["model"]["vocab"]["[Na+]"] = len(data["model"]["vocab"])
    (root / "member_1" / "tokenizer.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match="different tokenizers"):
        Network(root)


def _serve(settings, directory):
    """The site serving `directory` for one test, then the default again."""
    settings.PREDICTION_MODEL_DIR = directory
    reset_model()
    yield
    reset_model()


@pytest.fixture
def served_ensemble(settings, disagreeing_dir):
    yield from _serve(settings, disagreeing_dir)


@pytest.fixture
def served_plain(settings):
    yield from _serve(settings, PLAIN)


@pytest.mark.django_db
def test_form_stores_and_shows_uncertainty(client, served_ensemble, disagreeing):
    from predictions.models import Prediction

    response = client.post("/", {"smiles": "CCCCO"})
    assert response.status_code == 302
    prediction = Prediction.objects.get()
    expected = disagreeing.predict_with_uncertainty(["CCCCO"])[0]
    assert prediction.model_hash == disagreeing.weights_hash
    # The site serves through NumPy, the fixture through torch: equal to float32 rounding.
    assert [o["uncertainty"] for o in prediction.outputs] == pytest.approx(
        expected.uncertainties, abs=1e-5
    )
    html = client.get(response["Location"]).content.decode()
    for output in prediction.outputs:
        d = output_decimals(output["label"])  # the page rounds to what the model's error backs
        assert (
            f'{output["value"]:.{d}f} <span class="uncertainty">± {output["uncertainty"]:.{d}f}'
            in html
        )

    base = prediction.get_absolute_url()
    full = client.get(base + "values.csv?precision=full").content.decode()
    row = next(csv.DictReader(io.StringIO(full)))
    data = json.loads(client.get(base + "values.json").content)
    for output, exported in zip(prediction.outputs, data["outputs"]):
        header = f"{output['label']} [{output['unit']}]"
        assert float(row[header]) == output["value"]
        assert float(row[f"{header} uncertainty"]) == output["uncertainty"]
        assert exported["uncertainty"] == output["uncertainty"]


@pytest.mark.django_db
def test_plain_checkpoint_stores_none_and_exports_blank(client, served_plain):
    from predictions.services import prediction_get_or_create

    prediction = prediction_get_or_create(text="CCCCO").prediction
    assert all(o["uncertainty"] is None for o in prediction.outputs)
    base = prediction.get_absolute_url()
    assert "±" not in client.get(base).content.decode()
    row = next(csv.DictReader(io.StringIO(client.get(base + "values.csv").content.decode())))
    assert all(row[k] == "" for k in row if k.endswith(" uncertainty"))
    data = json.loads(client.get(base + "values.json").content)
    assert [o["uncertainty"] for o in data["outputs"]] == [None] * len(prediction.outputs)


@pytest.mark.django_db
def test_batch_rows_carry_the_uncertainty(served_ensemble, disagreeing):
    from batches import services as batch_services
    from batches.models import BatchRow

    batch = batch_services.batch_create(text="CCO\nCCCN\nnot-a-smiles\n")
    assert batch_services.batch_run(batch_pk=batch.pk) == "done"
    rows = list(BatchRow.objects.filter(batch_id=batch.pk).order_by("row_number"))
    assert [r.status for r in rows] == ["ok", "ok", "error"]
    expected = disagreeing.predict_with_uncertainty(["CCO", "CCCN"])
    for row, result in zip(rows, expected):
        assert [o["uncertainty"] for o in row.outputs] == pytest.approx(
            result.uncertainties, abs=1e-5
        )  # NumPy (site) vs torch (fixture)
        assert all(o["uncertainty"] > 0 for o in row.outputs)


def test_plot_draws_the_uncertainty_as_an_error_bar():
    from chemreport import rendering

    plain = rendering.PlotOutput(label="logS", value=-2.0, unit="u", range=None)
    bar = rendering.PlotOutput(label="logS", value=-2.0, unit="u", range=None, uncertainty=0.4)
    svg = rendering.prediction_plot_svg([bar], kind="regression")
    assert "-2.00 ± 0.40" in svg and "-2.00 ± " not in rendering.prediction_plot_svg(
        [plain], kind="regression"
    )
    ranged = {"min": -10.0, "max": 2.0, "p05": -6.0, "p95": 0.0}
    with_range = [rendering.PlotOutput("logS", -2.0, "u", ranged, 0.4)]
    without = [rendering.PlotOutput("logS", -2.0, "u", ranged)]
    png_bar = rendering.prediction_plot_png(with_range, kind="regression")
    assert png_bar.startswith(b"\x89PNG")
    assert png_bar != rendering.prediction_plot_png(without, kind="regression")


def test_descriptor_network_is_read_from_the_manifest_moves_the_value_and_the_hash(tmp_path):
    """The descriptor network (chemcore.descriptor_mlp) round-trips through ensemble.json, is
    mixed into the trees' value by its weight (σ untouched), and its file is in the hash."""
    if not (SHIPPED / "descriptor_mlp.safetensors").exists():
        pytest.skip("the shipped checkpoint has no descriptor network")
    root = _ensemble(tmp_path, [0.0, 0.05], scale=SCALE)
    shutil.copy(SHIPPED / "descriptor_model.json", root / "descriptor_model.json")
    n = len(SCALE)
    trees_only = EnsembleManifest(
        members=read_manifest(root).members, uncertainty_scale=SCALE, descriptor_weight=[1.0] * n
    )
    write_manifest(root, trees_only)
    before = Network(root)
    shutil.copy(SHIPPED / "descriptor_mlp.safetensors", root / "descriptor_mlp.safetensors")
    mixed_manifest = EnsembleManifest(**{**trees_only.__dict__, "mlp_weight": [0.5] * n})
    write_manifest(root, mixed_manifest)
    assert read_manifest(root) == mixed_manifest
    mixed = Network(root)
    assert mixed.descriptor_mlp is not None and mixed.weights_hash != before.weights_hash
    smiles = ["CCO", "c1ccccc1O"]
    rows = mixed.descriptor_model.predict(from_smiles(smiles, mixed.descriptor_names))
    net = mixed.descriptor_mlp.predict(from_smiles(smiles, mixed.descriptor_names))
    for a, b, t, m in zip(
        before.predict_with_uncertainty(smiles), mixed.predict_with_uncertainty(smiles), rows, net
    ):
        np.testing.assert_allclose(a.values, t)  # β 1: the trees alone
        np.testing.assert_allclose(b.values, 0.5 * t + 0.5 * m)  # half trees, half network
        assert a.uncertainties == b.uncertainties  # the network moves the value only
