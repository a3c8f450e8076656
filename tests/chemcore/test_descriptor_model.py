"""The descriptor model beside the network (chemcore.descriptor_model): scikit-learn's boosted
trees exported to plain arrays give scikit-learn's numbers, survive the JSON file, and the site
blends them into the member mean as the manifest says."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from chemcore import descriptor_model as DM
from chemcore.checkpoint import EnsembleManifest, read_manifest, write_manifest
from chemcore.descriptors import ALL, SLOW, from_smiles

sklearn = pytest.importorskip("sklearn")

SHIPPED = Path(__file__).resolve().parents[2] / "checkpoints" / "default"
MOLECULES = ["CCO", "c1ccccc1", "CC(=O)Oc1ccccc1C(=O)O", "CCCCCCCCO", "Oc1ccccc1", "CCN(CC)CC"]


def _fitted(X, y, **options):
    from sklearn.ensemble import HistGradientBoostingRegressor

    return HistGradientBoostingRegressor(random_state=0, max_iter=60, **options).fit(X, y)


def test_exported_trees_give_scikit_learns_numbers_and_survive_the_file(tmp_path):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(600, 8))
    X[rng.rand(600) < 0.1, 2] = np.nan  # missing values: a learned side for each split
    y = 2 * np.nan_to_num(X[:, 2], nan=3.0) + np.sin(X[:, 0]) + rng.normal(0, 0.1, 600)
    model = _fitted(X, y)
    trees = DM.Trees.from_sklearn(model)
    probe = rng.normal(size=(200, 8))
    probe[::7, 2] = np.nan
    np.testing.assert_allclose(trees.predict(probe), model.predict(probe), rtol=0, atol=1e-12)
    np.testing.assert_allclose(trees.predict(probe[:1]), model.predict(probe[:1]), atol=1e-12)
    complete = probe[~np.isnan(probe).any(axis=1)]  # the walk without missing values
    assert 100 < len(complete) < len(probe)
    np.testing.assert_allclose(trees.predict(complete), model.predict(complete), rtol=0, atol=1e-12)
    np.testing.assert_allclose(trees.predict(complete[:1]), model.predict(complete[:1]), atol=1e-12)
    written = DM.DescriptorModel(descriptors=[f"d{i}" for i in range(8)], outputs=[trees, None])
    DM.write(tmp_path / "trees.json", written)
    again = DM.read(tmp_path / "trees.json")
    both = again.predict(probe)
    np.testing.assert_array_equal(both[:, 0], trees.predict(probe))  # exactly: floats round-trip
    assert np.isnan(both[:, 1]).all()  # no model for that output
    (tmp_path / "bad.json").write_text(json.dumps({"format": "pickle"}))
    with pytest.raises(ValueError, match="unknown descriptor model format"):
        DM.read(tmp_path / "bad.json")


def test_a_bag_of_models_is_walked_as_one_model_giving_their_mean():
    """training.evaluate.fit_trees fits several models on a random tenth of the columns each;
    the exported bag gives their mean, with or without missing values."""
    from training.evaluate import TREE_BAG, fit_trees

    rng = np.random.RandomState(1)
    X = rng.normal(size=(400, 30))
    y = X[:, 0] - 2 * X[:, 5] + np.sin(X[:, 7]) + rng.normal(0, 0.1, 400)
    bag = fit_trees(X, y, seed=0, max_iter=40)
    assert len(bag) == TREE_BAG > 1
    probe = rng.normal(size=(50, 30))
    each = np.array([model.predict(probe) for model in bag])
    assert np.ptp(each, axis=0).max() > 0.01  # the seeds give different models
    trees = DM.Trees.from_sklearn(bag)
    assert len(trees.roots) == 40 * TREE_BAG
    np.testing.assert_allclose(trees.predict(probe), each.mean(axis=0), rtol=0, atol=1e-12)
    np.testing.assert_allclose(trees.predict(probe[:1]), each[:, :1].mean(axis=0), atol=1e-12)
    probe[::3, 5] = np.nan
    means = np.mean([model.predict(probe) for model in bag], axis=0)
    np.testing.assert_allclose(trees.predict(probe), means, rtol=0, atol=1e-12)


def test_blend_weighs_each_output_and_leaves_one_without_trees():
    values = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    trees = np.array([[3.0, 4.0, np.nan], [0.0, 1.0, np.nan]])
    blended = DM.blend(values, trees, [0.5, 1.0, 0.7])
    np.testing.assert_allclose(blended, [[2.0, 4.0, 3.0], [2.0, 1.0, 6.0]])
    np.testing.assert_allclose(DM.blend(values, trees, [0.25]), [[1.5, 2.0, 3.0], [3.0, 5.0, 6.0]])


def test_descriptors_are_computed_by_name_and_never_break_a_batch():
    names = ["MolLogP", "TPSA", "NumHDonors"]
    values = from_smiles(["CCO", "c1ccccc1O"], names)
    assert values.shape == (2, 3) and values[0, 2] == 1 and values[1, 1] > 0
    assert len(ALL) > 200 and SLOW < set(ALL)
    with pytest.raises(KeyError):
        from_smiles(["CCO"], ["NoSuchDescriptor"])


def test_manifest_carries_the_descriptor_blend(tmp_path):
    manifest = EnsembleManifest(members=["m0"], descriptor_weight=[0.5, 0.0, 0.25])
    write_manifest(tmp_path, manifest)
    assert read_manifest(tmp_path) == manifest and manifest.blends_descriptors
    write_manifest(tmp_path, EnsembleManifest(members=["m0"]))
    assert not read_manifest(tmp_path).blends_descriptors
    assert "descriptor_blend" not in (tmp_path / "ensemble.json").read_text()


def test_fit_weight_picks_what_validation_supports():
    from training.evaluate import fit_descriptor_weight

    rng = np.random.RandomState(0)
    y = rng.normal(0, 1, 300)
    good, bad = y + rng.normal(0, 0.2, 300), y + rng.normal(0, 1.0, 300)
    assert fit_descriptor_weight(y, bad, good) >= 0.9  # the trees know better
    assert fit_descriptor_weight(y, good, bad) <= 0.1  # the members know better


@pytest.fixture(scope="module")
def blended_dir(tmp_path_factory):
    """The shipped members with a descriptor model fitted here on a few molecules, weight 1
    for the first output and 0.5 for the second."""
    root = tmp_path_factory.mktemp("blended")
    manifest = read_manifest(SHIPPED)
    for name in manifest.members[:2]:
        shutil.copytree(SHIPPED / name, root / name)
    names = ["MolLogP", "TPSA", "HeavyAtomCount"]
    X = from_smiles(MOLECULES * 5, names)
    y = np.arange(len(X), dtype=float) % 7
    trees = DM.Trees.from_sklearn(_fitted(X, y, min_samples_leaf=2))
    n_out = len(json.loads((root / manifest.members[0] / "config.json").read_text())["id2label"])
    outputs = [trees, trees] + [None] * (n_out - 2)
    DM.write(root / "descriptor_model.json", DM.DescriptorModel(names, outputs))
    write_manifest(
        root,
        EnsembleManifest(members=manifest.members[:2], descriptor_weight=[1.0, 0.5, 0.0]),
    )
    return root


def test_site_blends_the_descriptor_model_into_the_member_mean(blended_dir):
    from chemcore.network import Network

    blended = Network(blended_dir)
    manifest = read_manifest(blended_dir)
    write_manifest(blended_dir, EnsembleManifest(members=manifest.members))
    try:
        members_only = Network(blended_dir)
    finally:
        write_manifest(blended_dir, manifest)
    assert blended.weights_hash != members_only.weights_hash
    model = DM.read(blended_dir / "descriptor_model.json")
    trees = model.predict(from_smiles(MOLECULES, model.descriptors))
    for text, got, mean, own in zip(
        MOLECULES, blended.predict(MOLECULES), members_only.predict(MOLECULES), trees
    ):
        assert got[0] == pytest.approx(own[0], abs=1e-9), text  # weight 1: the trees alone
        assert got[1] == pytest.approx((mean[1] + own[0]) / 2, abs=1e-6), text
        assert got[2] == pytest.approx(mean[2], abs=1e-9), text  # weight 0: the members


def test_few_rows_walk_every_output_at_once_and_give_the_same_bits():
    """A web request's one molecule walks all outputs' trees together (one row: every split
    at once, LeafMasks), a batch each output's on its own: the shipped trees and error model
    give the same values to the bit either way."""
    manifest = read_manifest(SHIPPED)
    drugs = ["CC(C)Cc1ccc(cc1)C(C)C(=O)O", "CN1C=NC2=C1C(=O)N(C(=O)N2C)C", "OCC1OC(O)C(O)C(O)C1O"]
    for name in (manifest.descriptor_model, manifest.error_model):
        model = DM.read(SHIPPED / name)
        read = [d for d in model.descriptors if not d.startswith("TreesValue:")]
        rows = from_smiles(MOLECULES + drugs, read)
        extra = len(model.descriptors) - len(read)  # the error model reads the trees' values
        values = np.random.RandomState(0).normal(-1, 2, size=(len(rows), extra))
        rows = np.column_stack([rows, values])
        assert len(rows) > DM.COMBINED_ROWS
        batch = model.predict(rows)  # each output on its own
        one = np.vstack([model.predict(row[None, :]) for row in rows])  # leaf masks
        two = np.vstack([model.predict(rows[i : i + 2]) for i in range(0, len(rows), 2)])
        np.testing.assert_array_equal(one, batch)
        np.testing.assert_array_equal(two, batch)
        combined, _ = model._combined()
        assert combined.masks is not None
        # a row on a split's threshold goes left, as in the walk
        on = rows[0].copy()
        on[combined.feature[combined.roots]] = combined.threshold[combined.roots]
        np.testing.assert_array_equal(
            combined.masks.leaves_of(on), combined.leaves_of(np.vstack([on, on]))[0]
        )


def test_leaf_masks_find_the_leaf_the_walk_finds():
    """Random trees of every shape the masks take (up to 32 leaves: 32-bit masks; up to 64:
    64-bit), random rows, rows exactly on thresholds; a lone-leaf tree or one of more than 64
    leaves has no masks (the walk serves it)."""
    rng = np.random.default_rng(5)

    def grown(leaves_per_tree: list[int], features: int = 6) -> DM.Trees:
        feature, threshold, left, right, leaf, roots = [], [], [], [], [], []

        def new_leaf() -> int:
            for column, empty in (
                (leaf, True),
                (feature, 0),
                (threshold, 0.0),
                (left, 0),
                (right, 0),
            ):
                column.append(empty)
            return len(leaf) - 1

        for want in leaves_per_tree:
            open_leaves = [new_leaf()]  # grow by splitting random leaves
            roots.append(open_leaves[0])
            while len(open_leaves) < want:
                node = open_leaves.pop(rng.integers(len(open_leaves)))
                kids = [new_leaf(), new_leaf()]
                leaf[node], left[node], right[node] = False, kids[0], kids[1]
                feature[node] = int(rng.integers(features))
                threshold[node] = float(rng.choice([-1.0, 0.0, 0.5, 1.0]))
                open_leaves += kids
        n = len(leaf)
        return DM.Trees(
            0.0,
            np.asarray(roots),
            np.asarray(feature),
            np.asarray(threshold),
            np.asarray(left),
            np.asarray(right),
            np.asarray(leaf),
            np.zeros(n, dtype=bool),
            rng.normal(size=n),
        )

    rows = np.vstack([rng.normal(size=(300, 6)), rng.choice([-1.0, 0.0, 0.5, 1.0], size=(300, 6))])
    for shape, bits in (([2, 5, 31, 32, 17], np.uint32), ([33, 64, 3], np.uint64)):
        trees = grown(shape)
        masks = DM.LeafMasks.of(trees)
        assert masks is not None and masks.keep.dtype == bits
        walked = trees.leaves_of(rows)
        for row, expected in zip(rows, walked):
            np.testing.assert_array_equal(masks.leaves_of(row), expected)
    assert DM.LeafMasks.of(grown([4, 1])) is None
    assert DM.LeafMasks.of(grown([65])) is None
