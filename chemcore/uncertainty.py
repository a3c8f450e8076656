"""How an ensemble's uncertainty is composed, shared by training (calibration) and serving.

sigma = sqrt((scale * member_std)^2 + (distance_scale * (1 - nearest))^2), per output, where
``nearest`` is the Tanimoto similarity (chemcore.similarity) of the molecule to the most similar
training molecule measured for that output. The member spread alone ranks errors poorly on new
chemistry (members share one pre-trained start); the distance term adds what the spread misses.
Both factors are fitted on the validation molecules only (Gaussian likelihood).
"""

from __future__ import annotations

import math


def combine(spread: float, nearest: float | None, scale: float, distance_scale: float) -> float:
    """The calibrated sigma of one output (``nearest`` None: no distance term)."""
    base = (scale * spread) ** 2
    if nearest is not None and distance_scale:
        base += (distance_scale * (1.0 - nearest)) ** 2
    return math.sqrt(base)
