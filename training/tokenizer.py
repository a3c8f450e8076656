"""Atom-level SMILES tokenizer, saved as a plain ``PreTrainedTokenizerFast``.

The tokenizer.json uses a WordLevel model and a regex ``Split`` pre-tokenizer,
so ``AutoTokenizer.from_pretrained(dir)`` loads it without custom code.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

# Standard atom-level SMILES regex (Schwaller et al., Molecular Transformer).
SMILES_REGEX = r"(\[[^\]]+]|Br?|Cl?|N|O|S|P|F|I|b|c|n|o|s|p|\(|\)|\.|=|#|-|\+|\\|\/|:|~|@|\?|>|\*|\$|%[0-9]{2}|[0-9])"
_RE = re.compile(SMILES_REGEX)

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

# Always in the vocabulary (organic subset, bonds, branches, ring closures), so
# randomised SMILES never produce [UNK] for common syntax.
BASE_TOKENS = (
    ["B", "C", "N", "O", "P", "S", "F", "Cl", "Br", "I", "b", "c", "n", "o", "s", "p"]
    + ["(", ")", ".", "=", "#", "-", "+", "\\", "/", ":", "~", "@", "?", ">", "*", "$"]
    + [str(i) for i in range(10)]
    + [f"%{i}" for i in range(10, 30)]
)


def split_smiles(smiles: str) -> list[str]:
    """Atom-level tokens; ''.join(tokens) == smiles for valid SMILES."""
    return _RE.findall(smiles)


def build_vocab(smiles: Iterable[str], min_freq: int = 1) -> dict[str, int]:
    counts = Counter()
    for s in smiles:
        counts.update(split_smiles(s))
    tokens = list(SPECIAL_TOKENS)
    seen = set(tokens)
    for t in BASE_TOKENS:
        if t not in seen:
            tokens.append(t)
            seen.add(t)
    for t, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        if c >= min_freq and t not in seen:
            tokens.append(t)
            seen.add(t)
    return {t: i for i, t in enumerate(tokens)}


def build_tokenizer(vocab: dict[str, int], model_max_length: int):
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(SMILES_REGEX), behavior="isolated")
    cls_id, sep_id = vocab["[CLS]"], vocab["[SEP]"]
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=model_max_length,
        padding_side="right",
        truncation_side="right",
    )
    return fast
