"""The graph network (chemcore.graph_network): stored and read back as the site reads it,
evaluated with NumPy and SciPy exactly as an independent torch forward evaluates the same
weights, blind to atom order, and able to see size (which solubility depends on)."""

import numpy as np
import pytest
import torch
from rdkit import Chem

from chemcore import graph_network as G
from chemcore.checkpoint import EnsembleManifest, read_manifest, write_manifest

SMILES = [
    "CCO",
    "CCCO",
    "CCCCO",
    "CCCCCCO",
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
    "C",
    "C[C@H](N)C(=O)O",
    "CCCCCCCCCC",
    "c1ccc2cc3ccccc3cc2c1",
]


@pytest.fixture(scope="module")
def fitted():
    from training.evaluate import fit_graph_network

    heavy = np.array([Chem.MolFromSmiles(s).GetNumHeavyAtoms() for s in SMILES], float)
    rng = np.random.default_rng(0)
    y = np.column_stack([heavy, rng.normal(size=len(SMILES))])
    y[::4, 1] = np.nan  # an output measured for some molecules only
    return y, fit_graph_network(SMILES, y, epochs=60)


def torch_forward(model: G.GraphNetwork, smiles: list[str]) -> np.ndarray:
    """The same network written again with torch's scatter-add (index_add_), as training runs it."""
    b = G.collate([G.featurise(s) for s in smiles])
    atoms, src, dst = (torch.tensor(a) for a in (b.atoms, b.source, b.target))
    rev, mol = torch.tensor(b.reverse), torch.tensor(b.molecule)
    bonds = torch.tensor(b.bonds)
    outs = []
    for net in model.nets:
        w = {k: torch.tensor(getattr(net, k)) for k in ("w_input", "w_message", "w_atom", "b_atom")}
        first = torch.relu(torch.cat([atoms[src], bonds], 1) @ w["w_input"])
        h = first
        for _ in range(model.depth - 1):
            arriving = torch.zeros(len(atoms), h.shape[1]).index_add_(0, dst, h)
            h = torch.relu(first + (arriving[src] - h[rev]) @ w["w_message"])
        arriving = torch.zeros(len(atoms), h.shape[1]).index_add_(0, dst, h)
        states = torch.relu(torch.cat([atoms, arriving], 1) @ w["w_atom"] + w["b_atom"])
        summed = torch.zeros(b.size, states.shape[1]).index_add_(0, mol, states)
        counts = torch.zeros(b.size).index_add_(0, mol, torch.ones(len(atoms)))
        x = torch.cat([summed / counts[:, None], summed / 10.0], 1)
        for i, (wh, bh) in enumerate(net.head):
            x = x @ torch.tensor(wh) + torch.tensor(bh)
            x = torch.relu(x) if i < len(net.head) - 1 else x
        outs.append(x.double().numpy())
    values = np.mean(outs, axis=0) * model.target_std + model.target_mean
    return np.clip(values, model.target_low, model.target_high)


def test_written_and_read_back_predicts_what_torch_computes_from_the_same_weights(fitted, tmp_path):
    _, model = fitted
    G.write(tmp_path / "graph.safetensors", model)
    read = G.read(tmp_path / "graph.safetensors")
    assert len(read.nets) == len(model.nets) == 3 and read.depth == model.depth
    served = read.predict(SMILES)
    # float16 storage moves the values by far less than the model's error
    assert np.abs(served - model.predict(SMILES)).max() < 0.02 * np.abs(model.predict(SMILES)).max()
    np.testing.assert_allclose(served, torch_forward(read, SMILES), rtol=1e-4, atol=1e-4)
    # the same weights always give the same file
    G.write(tmp_path / "again.safetensors", read)
    G.write(tmp_path / "again2.safetensors", G.read(tmp_path / "again.safetensors"))
    assert (tmp_path / "again.safetensors").read_bytes() == (
        tmp_path / "again2.safetensors"
    ).read_bytes()


def test_it_sees_size(fitted):
    y, model = fitted
    values = model.predict(SMILES)[:, 0]
    assert np.corrcoef(values, y[:, 0])[0, 1] > 0.8  # heavy atoms: the sum readout carries size


def test_values_stay_inside_the_fitting_range(fitted):
    y, model = fitted
    assert model.target_low[0] == y[:, 0].min() and model.target_high[0] == y[:, 0].max()
    # far larger than anything fitted: the sum readout would extrapolate, the clip holds it
    big = model.predict(["C" * 60, "c1ccc2cc3cc4cc5cc6ccccc6cc5cc4cc3cc2c1"])[:, 0]
    assert (big <= y[:, 0].max()).all() and (big >= y[:, 0].min()).all()


def test_atom_order_and_batching_do_not_matter(fitted):
    _, model = fitted
    one = model.predict(["OC(=O)c1ccccc1"])
    other = model.predict(["c1ccc(cc1)C(=O)O"])
    np.testing.assert_allclose(one, other, rtol=1e-5, atol=1e-5)
    together = model.predict(SMILES, batch_size=5)
    apart = np.vstack([model.predict([s]) for s in SMILES])
    np.testing.assert_allclose(together, apart, rtol=1e-5, atol=1e-5)


def test_single_atoms_and_unreadable_smiles(fitted):
    _, model = fitted
    out = model.predict(["C", "not a molecule", "[Na+]"])
    assert np.isfinite(out[0]).all() and np.isnan(out[1]).all() and np.isfinite(out[2]).all()


def test_features_are_what_the_file_says(fitted, tmp_path):
    graph = G.featurise("C[C@H](N)C(=O)O")
    assert graph.atoms.shape == (6, G.ATOM_FEATURES)
    assert graph.bonds.shape == (10, G.BOND_FEATURES)  # five bonds, both directions
    assert (graph.source[::2] == graph.target[1::2]).all()
    _, model = fitted
    G.write(tmp_path / "graph.safetensors", model)
    from safetensors.numpy import load_file, save_file

    tensors = load_file(str(tmp_path / "graph.safetensors"))
    save_file(tensors, str(tmp_path / "other.safetensors"), metadata={G.META_KEY: "{}"})
    with pytest.raises(ValueError, match="unknown graph network format"):
        G.read(tmp_path / "other.safetensors")


def test_manifest_names_the_graph_network(tmp_path):
    manifest = EnsembleManifest(
        members=["member-0"],
        descriptor_weight=[1.0, 0.5],
        mlp_weight=[0.3, 0.0],
        graph_weight=[0.0, 0.4],
    )
    write_manifest(tmp_path, manifest)
    read = read_manifest(tmp_path)
    assert read.blends_graph and read.graph_weight == [0.0, 0.4]
    assert read.graph_network == "graph_network.safetensors"
    # no descriptor model: no graph network either
    assert not EnsembleManifest(members=["m"], graph_weight=[0.5]).blends_graph


def test_serving_needs_neither_torch_nor_scipy(fitted, tmp_path):
    """The site's requirements have neither SciPy nor scikit-learn, and the NumPy engine runs
    without torch: read and predict with both made unimportable."""
    import subprocess
    import sys
    from pathlib import Path

    _, model = fitted
    G.write(tmp_path / "graph.safetensors", model)
    code = (
        "import sys; sys.modules['scipy'] = None; sys.modules['torch'] = None\n"
        "from chemcore import graph_network as G\n"
        f"m = G.read({str(tmp_path / 'graph.safetensors')!r})\n"
        "print(float(m.predict(['c1ccccc1O'])[0, 0]))\n"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    assert float(done.stdout) == pytest.approx(model.predict(["c1ccccc1O"])[0, 0], abs=1e-3)


def _looped(index, values, size):
    out = np.zeros((size, values.shape[1]), dtype=values.dtype)
    for row, group in enumerate(index):
        out[group] = out[group] + values[row]
    return out


def test_group_sums_add_each_groups_rows_in_order():
    # The message and pooling sums: every group's rows added one after another in row order
    # (the same bits as a plain loop) whichever way they are computed, an empty group zero,
    # no rows at all a zero table.
    from chemcore.graph_network import _Segments

    rng = np.random.default_rng(3)
    values = rng.standard_normal((500, 16)).astype(np.float32)
    many = rng.integers(0, 40, 500)  # many small groups (the bonds into each atom)
    many[many == 7] = 8  # group 7 gets no rows
    few = rng.permutation(np.repeat([0, 1, 3, 4], 125))  # few large ones (a molecule's atoms)
    for index, way in ((many, "rounds"), (few, "blocks")):
        segments = _Segments(index, 41)
        assert getattr(segments, way) is not None
        got = segments.sum(values)
        assert got.dtype == np.float32 and np.array_equal(got, _looped(index, values, 41))
    assert not _Segments(many, 41).sum(values)[[7, 40]].any()
    empty = _Segments(np.array([], dtype=np.int64), 3).sum(np.zeros((0, 16), np.float32))
    assert empty.shape == (3, 16) and not empty.any()
