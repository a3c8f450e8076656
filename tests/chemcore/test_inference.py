"""The checkpoint loader: the shipped model, and tiny checkpoints of each output kind."""

import math

import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification

from chemcore.network import Network, SmilesTooLong


def test_shipped_model_labels_units_and_identity(predictor):
    assert len(predictor.outputs) == 7  # v3: logS, logD7.4, ΔG_hyd and four ADME outputs
    assert "solubility" in predictor.outputs[0].label.lower()
    assert "logD" in predictor.outputs[1].label
    assert predictor.outputs[0].unit and predictor.outputs[2].unit == "kcal/mol"
    assert predictor.has_uncertainty and len(predictor.network.models) > 1  # a deep ensemble
    assert predictor.outputs[0].range and "p05" in predictor.outputs[0].range
    assert len(predictor.weights_hash) == 64
    assert predictor.value_kind == "regression"


def test_batched_prediction_matches_single_and_keeps_order(predictor):
    smiles = ["c1ccc2cc3ccccc3cc2c1", "CCO", "OC[C@H]1OC(O)[C@H](O)[C@@H](O)[C@@H]1O", "CC"]
    batch = predictor.network.predict(smiles, batch_size=3)
    for text, values in zip(smiles, batch):
        single = predictor.network.predict([text])[0]
        assert values == pytest.approx(single, abs=1e-4)
        assert all(math.isfinite(v) for v in values)


def test_too_long_smiles_is_refused_not_truncated(predictor):
    long_chain = "C" * (predictor.max_tokens + 5)
    with pytest.raises(SmilesTooLong, match="refused rather than silently truncated"):
        predictor.network.predict([long_chain])


def _tiny_checkpoint(tmp_path, predictor, **config):
    """A 1-layer model reusing the shipped tokenizer, to test each output kind."""
    cfg = BertConfig(
        vocab_size=predictor.network.tokenizer.vocab_size + 10,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
        **config,
    )
    torch.manual_seed(0)
    BertForSequenceClassification(cfg).save_pretrained(tmp_path)
    predictor.network.tokenizer.save_pretrained(tmp_path)
    return Network(tmp_path)


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
    predictor.network.model.config.save_pretrained(tmp_path)
    predictor.network.tokenizer.save_pretrained(tmp_path)
    with pytest.raises(FileNotFoundError, match="No weights"):
        Network(tmp_path)


# Molecules of very different token lengths (3 to ~60), so batches pad and sub-batches split.
ENGINE_MOLECULES = [
    "CCO",
    "c1ccc2cc3ccccc3cc2c1",
    "CC(=O)Oc1ccccc1C(=O)O",
    "OC[C@H]1OC(O)[C@H](O)[C@@H](O)[C@@H]1O",
    "CC",
    "CN1C=NC2=C1C(=O)N(C(=O)N2C)C",
    "CC(C)Cc1ccc(cc1)C(C)C(=O)O",
    "CCCCCCCCCCCCCCCCCC(=O)OC[C@H](COP(=O)(O)OCC[N+](C)(C)C)OC(=O)CCCCCCCCCCCCCCC",
]


@pytest.fixture(scope="module")
def hf_loop():
    """The shipped ensemble run the old way: each member's own HF forward, in turn."""
    from django.conf import settings

    return Network(settings.PREDICTION_MODEL_DIR, engine="hf")


def _flat(outputs) -> list[float]:
    return [x for o in outputs for x in o.values + (o.uncertainties or [])]


@pytest.fixture(scope="module")
def torch_stacked():
    """The shipped ensemble through torch's stacked engine (MODEL_ENGINE=torch)."""
    from django.conf import settings

    return Network(settings.PREDICTION_MODEL_DIR)


@pytest.mark.parametrize("engine", ["stacked", "numpy"])
def test_stacked_engines_equal_the_per_member_hf_loop(
    engine, predictor, torch_stacked, hf_loop, monkeypatch
):
    from chemcore.network import numpy_bert, stacked_bert

    network = {"stacked": torch_stacked, "numpy": predictor.network}[engine]
    assert network.engine == engine and hf_loop.engine == "hf"
    single = ENGINE_MOLECULES[2:3]
    assert _flat(network.predict_with_uncertainty(single)) == pytest.approx(
        _flat(hf_loop.predict_with_uncertainty(single)), abs=1e-5
    )
    expected = _flat(hf_loop.predict_with_uncertainty(ENGINE_MOLECULES, batch_size=5))
    module = {"stacked": stacked_bert, "numpy": numpy_bert}[engine]
    for rows in (module.ROWS, 64):  # 64 rows: every molecule in its own sub-batch
        monkeypatch.setattr(module, "ROWS", rows)
        got = _flat(network.predict_with_uncertainty(ENGINE_MOLECULES, batch_size=5))
        assert got == pytest.approx(expected, abs=1e-5)
    assert len(set(expected)) > len(expected) // 2  # real, varied numbers were compared


def test_plain_checkpoint_runs_stacked_without_uncertainty(predictor):
    member = predictor.directory / predictor.network.manifest.members[0]
    plain, plain_hf = Network(member), Network(member, engine="hf")
    assert plain.engine == "stacked" and not plain.has_uncertainty
    got = plain.predict_with_uncertainty(ENGINE_MOLECULES, batch_size=3)
    assert all(o.uncertainties is None for o in got)
    assert _flat(got) == pytest.approx(
        _flat(plain_hf.predict_with_uncertainty(ENGINE_MOLECULES, batch_size=3)), abs=1e-5
    )


def test_a_model_the_stacked_engine_does_not_reproduce_runs_member_by_member(tmp_path, predictor):
    tiny = _tiny_checkpoint(tmp_path, predictor, num_labels=1, hidden_act="gelu_new")
    assert tiny.engine == "hf"
    assert Network(tmp_path, engine="numpy").engine == "hf"  # neither stacked engine applies
    assert math.isfinite(tiny.predict(["CCO"])[0][0])
    with pytest.raises(ValueError, match="Unknown inference engine"):
        Network(tmp_path, engine="onnx")


def test_a_sub_word_tokenizer_checkpoint_reads_words_it_can_split(tmp_path):
    """Any Hugging Face checkpoint: a WordPiece tokenizer whose whole words are not vocabulary
    entries still reads them (split into pieces); only what it maps to [UNK] is refused."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from chemcore.network import UnknownTokens

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "C", "O", "N", "##C", "##O", "##N", "(", ")"]
    backend = Tokenizer(models.WordPiece({t: i for i, t in enumerate(vocab)}, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
        sep_token="[SEP]",
    )  # fmt: skip
    cfg = BertConfig(
        vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=64, num_labels=1,
        problem_type="regression",
    )  # fmt: skip
    torch.manual_seed(0)
    BertForSequenceClassification(cfg).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    tiny = Network(tmp_path)
    tiny.check_tokens("CCO")  # "CCO" is no vocabulary entry, but C ##C ##O are
    assert tiny.unknown_tokens("CC(N)O") == [] and math.isfinite(tiny.predict(["CCO"])[0][0])
    with pytest.raises(UnknownTokens, match="cannot read CS"):
        tiny.check_tokens("CS")  # no piece for S: WordPiece makes the whole word [UNK]
    light = Network(tmp_path, engine="numpy")  # the same through tokenizers and NumPy
    assert light.engine == "numpy" and light.unknown_tokens("CC(N)O CS") == ["CS"]
    for mine, theirs in zip(light.predict(["CCO", "CC(N)O"]), tiny.predict(["CCO", "CC(N)O"])):
        assert mine == pytest.approx(theirs, abs=1e-5)
