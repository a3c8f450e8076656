"""Django-free: reading the molecule files visitors upload (CSV/TSV, SMILES lists, SD files).

parsing.py checks a file in one streaming pass (encoding, header, columns, row limits) and
reads its rows back from any row on; batches/ stores and works them.
"""
