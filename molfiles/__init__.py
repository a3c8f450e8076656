"""Django-free: the molecule files the site reads and writes.

parsing.py checks an upload (CSV/TSV, SMILES list, SD file) in one streaming pass and reads
its rows back from any row on; tables.py names the columns and writes the cells of the CSV
and SDF exports, escaped so that no spreadsheet runs them.
"""
