"""The forward step of chemcore.model's pipeline: a checkpoint's transformer members, its
tokenizer and its descriptor trees (forward.py).

The members run stacked in one pass, in NumPy (numpy_bert.py, the site's default) or in torch
(stacked_bert.py); any other Hugging Face checkpoint runs member by member through
transformers. forward.py and stacked_bert.py are the only modules that import torch.
"""

from chemcore.network.forward import (
    ModelOutput,
    Network,
    OutputSpec,
    SmilesTooLong,
    UnknownTokens,
)

__all__ = ["ModelOutput", "Network", "OutputSpec", "SmilesTooLong", "UnknownTokens"]
