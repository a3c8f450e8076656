"""Training / evaluation pipeline of the site's default model (a separate package).

``python -m training --output DIR`` trains from scratch on the CPU (seeded) and writes an
ensemble checkpoint (see ``chemcore.checkpoint``), ``metrics.json`` and the model card.
It imports nothing from Django or ``predictions``, and the site imports nothing from it;
its dependencies are in ``requirements-train.txt``.
"""
