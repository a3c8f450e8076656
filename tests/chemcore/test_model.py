"""The model object (chemcore.model.Model): one Django-free path from SMILES to the final
prediction, which the site stores and training evaluates."""

import subprocess
import sys
from pathlib import Path

import pytest

from chemcore.model import Model, MoleculePrediction, Refused

ROOT = Path(__file__).resolve().parents[2]


def test_one_molecule_gives_every_output_final_with_its_verdict(predictor):
    got = predictor.predict("OC(=O)c1ccccc1OC(C)=O.[Na+]", neighbours=3)
    assert isinstance(got, MoleculePrediction)
    assert got.smiles == "CC(=O)Oc1ccccc1C(=O)O"  # standardised: the salt's parent
    assert "removed" in got.molecule.standardisation_note
    assert [o.label for o in got.outputs] == [s.label for s in predictor.outputs]
    for output in got.outputs:
        assert output.uncertainty > 0 and output.verdict in ("in", "care", "out")
        assert output.nearest_similarity is not None and isinstance(output.reasons, list)
    assert got.verdict == max((o.verdict for o in got.outputs), key="in care out".split().index)
    assert len(got.neighbours) == 3
    assert got.neighbours[0].similarity >= got.neighbours[-1].similarity
    # read-across moved some value away from what the network alone gave
    assert any(o.read_across for o in got.outputs)
    for o in got.outputs:
        if o.read_across:
            assert o.value != pytest.approx(o.read_across["model_value"], abs=1e-9)


def test_a_list_keeps_order_refuses_in_place_and_matches_single_calls(predictor):
    smiles = ["CCO", "C1CC", "c1ccccc1O", "[Pt](Cl)Cl", "CC(=O)Nc1ccc(O)cc1"]
    got = predictor.predict(smiles, batch_size=2)
    assert isinstance(got[1], Refused) and "C1CC" in str(got[1])
    assert isinstance(got[3], Refused) and "Pt" in str(got[3])
    for text, result in zip(smiles, got):
        if isinstance(result, Refused):
            with pytest.raises(Refused):
                predictor.predict(text)
            continue
        alone = predictor.predict(text)
        assert result.values == pytest.approx(alone.values, abs=1e-5)
        assert result.uncertainties == pytest.approx(alone.uncertainties, abs=1e-5)
        assert result.verdict == alone.verdict


def test_a_list_with_nothing_the_model_can_read_gives_its_refusals_not_an_error(predictor):
    # Every input refused (or none at all) leaves nothing for the network: the list still
    # comes back one item per input, as with a list that has some readable molecules.
    assert predictor.predict([]) == []
    got = predictor.predict(["C1CC", "[Pt](Cl)Cl"])
    assert [type(r) for r in got] == [Refused, Refused]
    assert "C1CC" in str(got[0]) and "Pt" in str(got[1])
    assert predictor.run([]) == []


def test_pipeline_steps_compose_to_predict(predictor):
    molecule = predictor.preprocess("c1ccccc1O")
    raw = predictor.forward([molecule])[0]
    final = predictor.postprocess(molecule, raw)
    assert final.values == pytest.approx(predictor.predict("c1ccccc1O").values, abs=1e-9)
    # judging stored (final) values again leaves them as they are
    judged = predictor.judge(molecule.mol, final.values, final.uncertainties)
    assert [o["value"] for o in judged["outputs"]] == final.values
    assert judged["verdict"] == final.verdict


@pytest.mark.django_db
def test_the_site_stores_what_the_model_predicts(make_prediction, predictor):
    stored = make_prediction("CCCCCCCCO")
    fresh = predictor.predict("CCCCCCCCO")
    assert [o["value"] for o in stored.outputs] == pytest.approx(fresh.values, abs=1e-9)
    assert [o["uncertainty"] for o in stored.outputs] == pytest.approx(
        fresh.uncertainties, abs=1e-9
    )
    assert stored.domain == fresh.domain and stored.verdict == fresh.verdict
    assert all(isinstance(o["decimals"], int) for o in stored.outputs)


def test_training_evaluates_with_the_model_object(predictor):
    pytest.importorskip("scipy")
    from training.evaluate import predict_ensemble

    smiles = ["CCO", "[Pt](Cl)Cl", "c1ccc2ccccc2c1"]
    value, sigma = predict_ensemble(predictor.directory, smiles)
    assert all(v != v for v in value[1])  # NaN: refused, as the site refuses it
    for row, s, text in zip(value[[0, 2]], sigma[[0, 2]], ["CCO", "c1ccc2ccccc2c1"]):
        fresh = predictor.predict(text)
        assert list(row) == pytest.approx(fresh.values, abs=1e-5)
        assert list(s) == pytest.approx(fresh.uncertainties, abs=1e-5)


def test_the_model_object_needs_no_django():
    code = (
        "import sys; from chemcore.model import Model;"
        "m = Model.load('checkpoints/default', threads=1); p = m.predict('CCO');"
        "assert len(p.values) == 7 and p.verdict;"
        "assert not [n for n in sys.modules if n == 'django' or n.startswith('django.')], 'django';"
        "assert not [n for n in sys.modules if n.startswith('predictions')], 'predictions'"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]


def test_only_the_serving_module_loads_the_model():
    """Views, services and workers get the model from predictions.serving; templates and
    filters never ask for it (a tag may read the drug reference kept beside it); nothing
    outside chemcore builds a network or a domain."""
    for path in (ROOT / "predictions").rglob("*.py"):
        text = path.read_text()
        name = path.relative_to(ROOT).as_posix()
        if name != "predictions/serving/__init__.py":
            assert "Model.load(" not in text and "Network(" not in text, name
            assert "for_network(" not in text and "for_checkpoint(" not in text, name
        if "/templatetags/" in name:
            assert "get_model" not in text and "Model" not in text, name


def test_refused_input_names_itself(predictor):
    with pytest.raises(Refused, match="Invalid SMILES 'C1CC'"):
        predictor.predict("C1CC")
    with pytest.raises(Refused, match="too long"):
        predictor.predict("C" * (predictor.max_tokens + 5))


def test_a_plain_checkpoint_predicts_without_uncertainty(predictor):
    member = Model.load(predictor.directory / predictor.network.manifest.members[0])
    got = member.predict("CCO")
    assert got.uncertainties == [None] * 7 and not member.has_uncertainty
    assert got.verdict in ("in", "care", "out")  # no training set: the molecule's own rules
