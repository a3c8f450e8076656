"""Atom-level SMILES tokenizer shipped in checkpoints/default (loaded with AutoTokenizer)."""

import json
from pathlib import Path

import pytest

from chemcore.checkpoint import read_manifest

CKPT = Path(__file__).resolve().parents[2] / "checkpoints" / "default"


@pytest.fixture(scope="module")
def tok():
    from transformers import AutoTokenizer

    manifest = read_manifest(CKPT)  # every member of an ensemble shares one tokenizer
    return AutoTokenizer.from_pretrained(CKPT / manifest.members[0] if manifest else CKPT)


def pieces(tok, smiles):
    """Atom-level pieces from the saved tokenizer's own pre-tokenizer (before vocab lookup)."""
    return [p for p, _ in tok.backend_tokenizer.pre_tokenizer.pre_tokenize_str(smiles)]


@pytest.fixture(scope="module")
def splits():
    pytest.importorskip("datamol")
    from training import data

    if not data.data_available():
        pytest.skip("data archives not cached: python -m training --fetch-data")
    metrics = json.loads((CKPT / "metrics.json").read_text())  # the shipped tokenizer's split
    return data.make_splits(seed=0, version=data.split_version_of(metrics))


@pytest.fixture(scope="module")
def corpus(splits):
    from training.data import pretrain_corpus

    return pretrain_corpus(splits, 0)[0]  # ChEMBL + fitting/validation molecules


def test_special_tokens_and_template(tok):
    assert tok.cls_token == "[CLS]" and tok.sep_token == "[SEP]"
    assert tok.pad_token == "[PAD]" and tok.unk_token == "[UNK]" and tok.mask_token == "[MASK]"
    assert tok.model_max_length in (128, 256)
    enc = tok("CCO")["input_ids"]
    assert enc[0] == tok.cls_token_id and enc[-1] == tok.sep_token_id
    assert tok.convert_ids_to_tokens(enc) == ["[CLS]", "C", "C", "O", "[SEP]"]


@pytest.mark.parametrize(
    "smiles,tokens",
    [
        ("c1cc[nH]c1", ["c", "1", "c", "c", "[nH]", "c", "1"]),
        ("N[C@@H](C)C(=O)O", ["N", "[C@@H]", "(", "C", ")", "C", "(", "=", "O", ")", "O"]),
        ("[Na+].[Cl-]", ["[Na+]", ".", "[Cl-]"]),
        ("ClCCBr", ["Cl", "C", "C", "Br"]),
        ("C%12CC%12", ["C", "%12", "C", "C", "%12"]),
        ("C/C=C\\C#N", ["C", "/", "C", "=", "C", "\\", "C", "#", "N"]),
    ],
)
def test_atom_level_tokens(tok, smiles, tokens):
    assert pieces(tok, smiles) == tokens


def test_unseen_atoms_map_to_unk(tok):
    for smi in ("[Uuo]", "[Xq+3]", "C[Zz]C"):
        ids = tok(smi, add_special_tokens=False)["input_ids"]
        assert tok.unk_token_id in ids, smi
    ids = tok("C[Zz]C", add_special_tokens=False)["input_ids"]
    assert tok.convert_ids_to_tokens(ids) == ["C", "[UNK]", "C"]
    # salts/metals were stripped from the training data, so e.g. [Na+] is unknown too
    assert tok.tokenize("[Na+].[Cl-]")[0] == "[UNK]"


def test_roundtrip_all_dataset_smiles(tok, splits, corpus):
    every = set(corpus) | set(splits.external_smiles)
    for smiles in splits.test_smiles.values():
        every |= set(smiles)
    unk = tok.unk_token
    for smi in every:
        p = pieces(tok, smi)
        assert "".join(p) == smi, smi
        toks = tok.tokenize(smi)
        assert len(toks) == len(p)
        assert all(t == q or t == unk for t, q in zip(toks, p)), smi


def test_no_unk_on_training_data(tok, corpus):
    unk = tok.unk_token_id
    train = list(corpus)
    ids = tok(train, add_special_tokens=False)["input_ids"]
    bad = [s for s, i in zip(train, ids) if unk in i]
    assert not bad, bad[:5]


def test_training_and_test_molecules_fit_max_length(tok, splits):
    limit = tok.model_max_length - 2
    for smiles in [splits.val_smiles, splits.external_smiles, *splits.test_smiles.values()]:
        assert max(len(tok.tokenize(s)) for s in smiles) <= limit
    # a handful of large Lipophilicity molecules are truncated in training (the site refuses them)
    assert sum(len(tok.tokenize(s)) > limit for s in splits.train_smiles) <= 5


def test_python_regex_matches_tokenizer(tok):
    from training.tokenizer import split_smiles

    for smi in ("CC(=O)Oc1ccccc1C(=O)O", "O=C([O-])c1ccc[n+](C)c1", "C[C@H]1CC[C@@]2(Br)CC12"):
        assert split_smiles(smi) == pieces(tok, smi) == tok.tokenize(smi)
