"""The descriptor and graph network fits run on a fixed number of torch threads, whatever the
caller left set (on two threads the graph fit is not even repeatable): a whole
`python -m training` (whose transformer members set torch to one thread) and a finish from
saved members must write the same network files."""

import numpy as np
import pytest
import torch

from training import data as D
from training.evaluate import (
    NETWORK_THREADS,
    descriptor_model_names,
    fit_descriptor_mlp,
    fit_graph_network,
)

SMILES = ["CCO", "CCCO", "CCCCO", "c1ccccc1O", "c1ccccc1N", "CC(=O)O", "CCN", "c1ccncc1"]
SMILES += ["C1CCCCC1O", "CCOCC", "c1ccc2ccccc2c1", "CC(C)O", "OCCO", "c1ccsc1", "ClCCl", "CC#N"]


def fit_both(caller_threads: int):
    """Both fits from a caller whose torch runs on `caller_threads`; the threads torch had while
    each fit logged, the threads after, and the fitted models."""
    names = descriptor_model_names()
    X = D.full_descriptors(SMILES, names)
    y = np.column_stack([X[:, names.index("MolLogP")], X[:, names.index("TPSA")] / 10])
    seen: list[int] = []
    before = torch.get_num_threads()
    torch.set_num_threads(caller_threads)
    try:
        log = lambda _: seen.append(torch.get_num_threads())  # noqa: E731
        mlp = fit_descriptor_mlp(SMILES, y, names, X=X, epochs=3, log=log)
        graph = fit_graph_network(SMILES, y, epochs=3, log=log)
        after = torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
    return seen, after, mlp, graph


@pytest.mark.parametrize("caller_threads", [2, 3])
def test_network_fits_use_their_own_thread_count_and_give_the_callers_back(caller_threads):
    seen, after, _, _ = fit_both(caller_threads)
    assert seen and set(seen) == {NETWORK_THREADS}
    assert after == caller_threads


def test_the_same_networks_whatever_thread_count_the_caller_left():
    _, _, mlp_1, graph_1 = fit_both(2)
    _, _, mlp_3, graph_3 = fit_both(3)
    for a, b in zip(mlp_1.nets, mlp_3.nets, strict=True):
        for (wa, ba), (wb, bb) in zip(a, b, strict=True):
            assert np.array_equal(wa, wb) and np.array_equal(ba, bb)
    for a, b in zip(graph_1.nets, graph_3.nets, strict=True):
        for name in ("w_input", "w_message", "w_atom", "b_atom"):
            assert np.array_equal(getattr(a, name), getattr(b, name))


def test_error_model_on_the_mix_is_the_trees_one_where_no_network_is_mixed_in():
    """fit_error_model with `mix` (v3.4.0: σ's error model fitted to the errors of the value as
    the site mixes it) fits each part out of fold; with both network weights 0 the mix is the
    trees' value and the model is exactly the trees' one, and a network weight changes it."""
    from training.evaluate import fit_error_model

    smiles = [c * k + end for k in range(1, 21) for c, end in (("C", "O"), ("C", "N"))]
    smiles += ["C" * k + end for k in range(1, 21) for end in ("Cl", "C(=O)O", "F")]
    smiles += ["c1ccccc1" + "C" * k for k in range(1, 21)]
    names = descriptor_model_names()
    X = D.full_descriptors(smiles, names)
    rng = np.random.default_rng(0)
    y = np.column_stack([X[:, names.index("MolLogP")], rng.normal(size=len(smiles))])
    assert len(set(smiles)) == len(smiles) >= 100  # an error model needs 100 measured
    trees = fit_error_model(smiles, y, names, X=X)
    zero = fit_error_model(smiles, y, names, X=X, mix=[(0.0, 0.0), (0.0, 0.0)])
    assert zero.to_json() == trees.to_json()
    mixed = fit_error_model(smiles, y, names, X=X, mix=[(0.5, 0.0), (0.0, 0.0)])
    assert mixed.to_json() != trees.to_json()
