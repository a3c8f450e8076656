"""Django-free rules shared by training (`training/`) and serving (`predictions/`).

`checkpoint` names the files and config keys a checkpoint directory carries;
`standardise` decides what a molecule is (kept fragment, charges, canonical SMILES).
Imports only RDKit and the standard library, so both sides can depend on it.
"""
