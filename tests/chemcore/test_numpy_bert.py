"""The NumPy engine (chemcore.network.numpy_bert): the site's default, serving without torch."""

import csv
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from chemcore.network import Network, numpy_bert

ROOT = Path(__file__).resolve().parents[2]
CHECKPOINT = ROOT / "checkpoints" / "default"


def _training_smiles(n: int) -> list[str]:
    with (CHECKPOINT / "training_set.csv").open(encoding="utf-8") as handle:
        return [row["smiles"] for _, row in zip(range(n), csv.DictReader(handle))]


def test_erf_is_within_5e_7_of_the_exact_function():
    xs = np.linspace(-9, 9, 180_001, dtype=np.float32)
    exact = np.array([math.erf(float(x)) for x in xs])
    assert np.abs(numpy_bert.erf(xs.copy()) - exact).max() < 5e-7
    gelu = numpy_bert.gelu(xs)
    exact_gelu = np.array([x * 0.5 * (1 + math.erf(x / math.sqrt(2))) for x in xs.tolist()])
    # float32: erf near ±1 carries its 5e-7 into x·(1 + erf) for x around -5
    np.testing.assert_allclose(gelu, exact_gelu, rtol=2e-7, atol=1.2e-6)
    assert gelu[0] == 0.0 and gelu[-1] == pytest.approx(9.0)


def test_the_tokenizer_encodes_as_transformers_does():
    from transformers import AutoTokenizer

    member = CHECKPOINT / "member-0"
    ours, theirs = numpy_bert.Tokenizer(member), AutoTokenizer.from_pretrained(member)
    texts = _training_smiles(400) + ["CC[Xe]C", "C" * 300, "[13CH3][C@@H](N)O"]
    mine, hf = ours(texts, truncation=False), theirs(texts, truncation=False)
    assert mine["input_ids"] == hf["input_ids"]
    padded = ours(texts[:50], padding=True, return_tensors="np")
    expected = theirs(texts[:50], padding=True, return_tensors="np")
    for key in ("input_ids", "attention_mask"):
        np.testing.assert_array_equal(padded[key], expected[key])
    cut, hf_cut = ours(texts[-3:], truncation=True), theirs(texts[-3:], truncation=True)
    assert cut["input_ids"] == hf_cut["input_ids"] and len(cut["input_ids"][1]) == 256
    one = ours("CCO", return_offsets_mapping=True)
    hf_one = theirs("CCO", return_offsets_mapping=True)
    assert one["input_ids"] == hf_one["input_ids"]
    assert [tuple(o) for o in one["offset_mapping"]] == [tuple(o) for o in hf_one["offset_mapping"]]
    assert ours.get_vocab() == theirs.get_vocab()
    assert (ours.unk_token_id, ours.pad_token_id) == (theirs.unk_token_id, theirs.pad_token_id)
    assert ours.model_max_length == theirs.model_max_length


def test_the_site_model_runs_on_numpy_and_equals_torch_to_float_rounding(predictor):
    assert predictor.network.engine == "numpy"  # MODEL_ENGINE's default
    smiles = [s for s in _training_smiles(300) if len(s) < 150]
    torch_network = Network(CHECKPOINT)
    assert torch_network.engine == "stacked"
    ours = predictor.network.predict_with_uncertainty(smiles, batch_size=64)
    theirs = torch_network.predict_with_uncertainty(smiles, batch_size=64)
    values = np.array([o.values for o in ours])
    np.testing.assert_allclose(values, [o.values for o in theirs], atol=2e-5)
    np.testing.assert_allclose(
        [o.uncertainties for o in ours], [o.uncertainties for o in theirs], atol=2e-5
    )
    assert np.unique(values.round(3)).size > 1000  # real, varied numbers were compared


def test_member_values_equal_the_torch_engine(predictor):
    smiles = ["CCO", "c1ccccc1O", "CC(=O)Oc1ccccc1C(=O)O", "C" * 300]  # the last one is cut
    ours = predictor.network.member_values(smiles, batch_size=2)
    theirs = Network(CHECKPOINT).member_values(smiles, batch_size=2)
    assert ours.shape == (5, 4, 7)
    np.testing.assert_allclose(ours, theirs, atol=2e-5)


def test_a_checkpoint_without_a_plain_config_loads_through_torch(tmp_path):
    import json
    import shutil

    member = CHECKPOINT / "member-0"
    for name in ("model.safetensors", "tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(member / name, tmp_path / name)
    config = json.loads((member / "config.json").read_text(encoding="utf-8"))
    del config["layer_norm_eps"]  # left to transformers' default: not read without it
    (tmp_path / "config.json").write_text(json.dumps(config), encoding="utf-8")
    network = Network(tmp_path, engine="numpy")
    assert network.engine == "stacked"
    assert math.isfinite(network.predict(["CCO"])[0][0])


@pytest.mark.slow
def test_a_web_process_predicts_without_importing_torch_or_transformers(tmp_path):
    code = (
        "import sys, django; django.setup();"
        "from predictions.serving import get_model;"
        "p = get_model().predict(['CC(=O)Oc1ccccc1C(=O)O'])[0];"
        "print(len(p.values), get_model().network.engine,"
        " 'torch' in sys.modules, 'transformers' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={
            "PATH": "/usr/bin:/bin",
            "DJANGO_SETTINGS_MODULE": "smiles_site.settings",
            "DJANGO_DEBUG": "true",
            "SMILES_VAR_DIR": str(tmp_path),
        },
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["7", "numpy", "False", "False"]
