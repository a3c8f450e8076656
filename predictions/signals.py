"""What the catalogue tells the apps built on it: it never imports them, they listen here.

Batch rows copy a prediction's verdict and RDKit profile so that their pages and exports need
no join; when the catalogue stores new values of those on a prediction, the copies follow.
"""

from django.dispatch import Signal

# `profiles`: {prediction pk: profile}, just stored on predictions whose profile was pending.
profiles_stored = Signal()

# `pk`, `fields`: {"domain": ..., "verdict": ...} just stored on that prediction (re-judged).
verdict_stored = Signal()
