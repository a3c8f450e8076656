"""The checkpoint loader: the shipped model, and tiny checkpoints of each output kind."""

import math

import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification

from predictions.inference import Predictor, SmilesTooLong


def test_shipped_model_labels_units_and_identity(predictor):
    assert len(predictor.outputs) == 3  # v2: logS, logD7.4, ΔG_hyd
    assert "solubility" in predictor.outputs[0].label.lower()
    assert "logD" in predictor.outputs[1].label
    assert predictor.outputs[0].unit and predictor.outputs[2].unit == "kcal/mol"
    assert predictor.has_uncertainty and len(predictor.models) > 1  # a deep ensemble
    assert predictor.outputs[0].range and "p05" in predictor.outputs[0].range
    assert len(predictor.weights_hash) == 64
    assert predictor.value_kind == "regression"


def test_batched_prediction_matches_single_and_keeps_order(predictor):
    smiles = ["c1ccc2cc3ccccc3cc2c1", "CCO", "OC[C@H]1OC(O)[C@H](O)[C@@H](O)[C@@H]1O", "CC"]
    batch = predictor.predict(smiles, batch_size=3)
    for text, values in zip(smiles, batch):
        single = predictor.predict([text])[0]
        assert values == pytest.approx(single, abs=1e-4)
        assert all(math.isfinite(v) for v in values)


def test_too_long_smiles_is_refused_not_truncated(predictor):
    long_chain = "C" * (predictor.max_tokens + 5)
    with pytest.raises(SmilesTooLong, match="refused rather than silently truncated"):
        predictor.predict([long_chain])


def _tiny_checkpoint(tmp_path, predictor, **config):
    """A 1-layer model reusing the shipped tokenizer, to test each output kind."""
    cfg = BertConfig(
        vocab_size=predictor.tokenizer.vocab_size + 10,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
        **config,
    )
    torch.manual_seed(0)
    BertForSequenceClassification(cfg).save_pretrained(tmp_path)
    predictor.tokenizer.save_pretrained(tmp_path)
    return Predictor(tmp_path)


def test_single_label_classification_gives_softmax_probabilities(tmp_path, predictor):
    tiny = _tiny_checkpoint(
        tmp_path,
        predictor,
        num_labels=3,
        problem_type="single_label_classification",
        id2label={0: "inactive", 1: "weak", 2: "active"},
    )
    values = tiny.predict(["CCO"])[0]
    assert sum(values) == pytest.approx(1.0, abs=1e-5)
    assert [o.label for o in tiny.outputs] == ["inactive", "weak", "active"]
    assert tiny.value_kind == "probability"
    assert tiny.max_tokens == 64  # from the tiny model's position embeddings


def test_multi_label_classification_gives_independent_sigmoids(tmp_path, predictor):
    tiny = _tiny_checkpoint(
        tmp_path, predictor, num_labels=2, problem_type="multi_label_classification"
    )
    values = tiny.predict(["CCO"])[0]
    assert all(0.0 < v < 1.0 for v in values)
    assert [o.label for o in tiny.outputs] == ["LABEL_0", "LABEL_1"]
    assert tiny.outputs[0].unit == "" and tiny.outputs[0].range is None


def test_missing_weights_are_reported(tmp_path, predictor):
    predictor.model.config.save_pretrained(tmp_path)
    predictor.tokenizer.save_pretrained(tmp_path)
    with pytest.raises(FileNotFoundError, match="No weights"):
        Predictor(tmp_path)
