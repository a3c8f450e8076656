"""Independent fits (the graph network's nets, the error model's folds) run in worker processes
at once (training.evaluate.in_parallel): each draws only from its own seed on one thread, so
the fitted files are the same to the bit as fitting one after another in this process."""

import numpy as np
import pytest
import torch

from training import data as D
from training.evaluate import (
    _flushes_denormals,
    descriptor_model_names,
    fit_error_model,
    fit_graph_network,
    in_parallel,
)

pytestmark = pytest.mark.slow  # starts worker processes

SMILES = ["CCO", "CCCO", "CCCCO", "c1ccccc1O", "c1ccccc1N", "CC(=O)O", "CCN", "c1ccncc1"]
SMILES += ["C1CCCCC1O", "CCOCC", "c1ccc2ccccc2c1", "CC(C)O", "OCCO", "c1ccsc1", "ClCCl", "CC#N"]


def _rows(smiles):
    names = descriptor_model_names()
    X = D.full_descriptors(smiles, names)
    return names, X


def test_graph_nets_fitted_in_workers_equal_those_fitted_here():
    names, X = _rows(SMILES)
    y = np.column_stack([X[:, names.index("MolLogP")], X[:, names.index("TPSA")] / 10])
    here = fit_graph_network(SMILES, y, epochs=2, nets=3, jobs=1)
    workers = fit_graph_network(SMILES, y, epochs=2, nets=3, jobs=2)
    assert len(workers.nets) == 3
    for a, b in zip(here.nets, workers.nets, strict=True):
        for name in ("w_input", "w_message", "w_atom", "b_atom"):
            assert np.array_equal(getattr(a, name), getattr(b, name))
        for (wa, ba), (wb, bb) in zip(a.head, b.head, strict=True):
            assert np.array_equal(wa, wb) and np.array_equal(ba, bb)
    # and the nets differ from each other: each has its own seed
    assert not np.array_equal(workers.nets[0].w_input, workers.nets[1].w_input)


@pytest.mark.slow
def test_error_model_folds_fitted_in_workers_equal_those_fitted_here():
    smiles = [c * k + end for k in range(1, 21) for c, end in (("C", "O"), ("C", "N"))]
    smiles += ["C" * k + end for k in range(1, 21) for end in ("Cl", "C(=O)O", "F")]
    smiles += ["c1ccccc1" + "C" * k for k in range(1, 21)]
    names, X = _rows(smiles)
    y = X[:, [names.index("MolLogP")]] + np.random.default_rng(0).normal(size=(len(smiles), 1))
    mix = [(0.5, 0.5)]  # trees, descriptor network and graph network all fitted per fold
    here = fit_error_model(smiles, y, names, X=X, mix=mix, jobs=1)
    workers = fit_error_model(smiles, y, names, X=X, mix=mix, jobs=2)
    assert here.outputs[0] is not None
    assert workers.to_json() == here.to_json()


@pytest.mark.parametrize("flush", [True, False])
def test_workers_flush_denormals_as_their_parent_does(flush):
    """train.set_seed turns flushing on before the members; a worker that did not would round
    a network's fit differently."""
    before = _flushes_denormals()
    torch.set_flush_denormal(flush)
    try:
        assert _flushes_denormals() is flush
        assert list(in_parallel(_flushes_denormals, [(), ()], jobs=2)) == [flush, flush]
    finally:
        torch.set_flush_denormal(before)


@pytest.mark.parametrize("jobs", [1, 2])
def test_an_unreadable_fitting_smiles_is_an_error_here_or_from_a_worker(jobs):
    y = np.zeros((3, 1))
    with pytest.raises(ValueError, match="must all be readable"):
        fit_graph_network(["CCO", "C1CC", "CCN"], y, epochs=1, nets=2, jobs=jobs)
