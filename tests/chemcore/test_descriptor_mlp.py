"""The descriptor network (chemcore.descriptor_mlp): stored and read back as the site reads it,
evaluated without torch exactly as torch evaluates the same weights, and mixed per output."""

import numpy as np
import pytest
import torch

from chemcore import descriptor_mlp as M
from chemcore.checkpoint import EnsembleManifest, read_manifest, write_manifest

SMILES = [
    "CCO",
    "CCCO",
    "c1ccccc1O",
    "c1ccccc1N",
    "CC(=O)O",
    "CCN",
    "c1ccncc1",
    "C1CCCCC1O",
    "CCOCC",
    "c1ccc2ccccc2c1",
    "CC(C)O",
    "OCCO",
    "c1ccsc1",
    "CC#N",
    "ClCCl",
    "c1ccc(cc1)C(=O)O",
]


@pytest.fixture(scope="module")
def fitted():
    from training import data as D
    from training.evaluate import descriptor_model_names, fit_descriptor_mlp

    names = descriptor_model_names()
    X = D.full_descriptors(SMILES, names)
    rng = np.random.default_rng(0)
    y = np.column_stack([X[:, names.index("MolLogP")], rng.normal(size=len(SMILES))])
    y[::4, 1] = np.nan  # an output measured for some molecules only
    return names, X, y, fit_descriptor_mlp(SMILES, y, names, X=X, epochs=30)


def test_written_and_read_back_predicts_what_torch_computes_from_the_same_weights(fitted, tmp_path):
    names, X, _, model = fitted
    M.write(tmp_path / "net.safetensors", model)
    read = M.read(tmp_path / "net.safetensors")
    assert read.descriptors == names and len(read.nets) == len(model.nets)
    served = read.predict(X)
    # float16 storage moves the values by far less than the model's error
    assert np.abs(served - model.predict(X)).max() < 0.01 * np.abs(model.predict(X)).max()
    x = torch.tensor(read.inputs(X))
    outs = []
    for layers in read.nets:
        h = x
        for i, (w, b) in enumerate(layers):
            h = torch.nn.functional.linear(h, torch.tensor(w.T), torch.tensor(b))
            h = torch.relu(h) if i < len(layers) - 1 else h
        outs.append(h.double().numpy())
    expected = np.mean(outs, axis=0) * read.target_std + read.target_mean
    np.testing.assert_allclose(served, expected, rtol=1e-5, atol=1e-5)
    # one molecule at a time (the first layer then reads only its set inputs' weights)
    for i in range(len(X)):
        np.testing.assert_allclose(
            read.predict(X[i : i + 1]), expected[i : i + 1], rtol=1e-5, atol=1e-5
        )


def test_it_learns_the_signal_it_is_given(fitted):
    names, X, y, model = fitted
    values = model.predict(X)[:, 0]
    assert np.corrcoef(values, y[:, 0])[0, 1] > 0.8  # logP, read from the descriptor row


def test_missing_descriptors_read_as_the_training_mean(fitted):
    _, X, _, model = fitted
    row = X[:1].copy()
    row[0, : model.scaled] = np.nan
    z = model.inputs(row)[0, : model.scaled]
    assert np.all(z == 0.0) and np.isfinite(model.predict(row)).all()


def test_mix_per_output():
    trees = np.array([[1.0, 2.0, np.nan]])
    net = np.array([[3.0, 4.0, 5.0]])
    np.testing.assert_allclose(M.blend(trees, net, [0.5, 0.0, 0.0]), [[2.0, 2.0, np.nan]])


def test_manifest_keeps_the_network_weights(tmp_path):
    manifest = EnsembleManifest(members=["m0"], descriptor_weight=[0.9, 1.0], mlp_weight=[0.4, 0.0])
    write_manifest(tmp_path, manifest)
    read = read_manifest(tmp_path)
    assert read == manifest and read.blends_mlp
    write_manifest(tmp_path, EnsembleManifest(members=["m0"], mlp_weight=[0.4, 0.0]))
    assert not read_manifest(tmp_path).blends_mlp  # no trees, no network


def test_the_file_is_the_same_byte_for_byte_each_time_it_is_written(fitted, tmp_path):
    """A retrain that gives the same weights gives the same file (and weights hash)."""
    model = fitted[-1]
    M.write(tmp_path / "a.safetensors", model)
    M.write(tmp_path / "b.safetensors", model)
    assert (tmp_path / "a.safetensors").read_bytes() == (tmp_path / "b.safetensors").read_bytes()
