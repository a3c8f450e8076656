"""Django-free rules shared by training (`training/`) and serving (`predictions/`).

`model.Model` is the model: SMILES in, final predictions out (preprocess → forward in
`network/` → postprocess). `checkpoint` names the files and config keys a checkpoint directory
carries; `standardise` decides what a molecule is (kept fragment, charges, canonical SMILES).
Imports RDKit, NumPy and the standard library at import time (torch only where a checkpoint
needs it), so both sides can depend on it.
"""
