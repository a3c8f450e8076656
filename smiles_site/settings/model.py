"""The prediction model: which checkpoint, how many threads, how many molecules per pass."""

import os

from .base import BASE_DIR
from .env import env_choice, env_int, env_path, env_str

PREDICTION_MODEL_DIR = env_path("PREDICTION_MODEL_DIR", BASE_DIR / "checkpoints" / "default")
# Approved drugs predicted by that checkpoint (`manage.py build_drug_reference`); empty: its
# approved_drugs.csv. Ignored when made for other weights.
DRUG_REFERENCE_PATH = env_str("DRUG_REFERENCE_PATH", "")
# What runs the network: "numpy" serves plain BERT checkpoints (the shipped one) without torch,
# ~190 MB less per process (chemcore.network.numpy_bert; others still load through torch); "torch"
# always loads torch (its batched products are faster on long batches).
MODEL_ENGINE = env_choice("MODEL_ENGINE", "numpy", ("numpy", "torch"))
# Threads torch (or NumPy's BLAS) may use in each process (gunicorn worker / Huey consumer): by default the
# cores shared among the WEB_CONCURRENCY web workers (gunicorn.conf.py sets it).
TORCH_THREADS = env_int(
    "TORCH_THREADS",
    max(1, (os.cpu_count() or 1) // env_int("WEB_CONCURRENCY", 1, minimum=1)),
    minimum=1,
)
# Molecules per forward pass in the batch worker (sorted by length, so little padding).
BATCH_INFERENCE_SIZE = env_int("BATCH_INFERENCE_SIZE", 128, minimum=1)
