"""The site's one model (chemcore.model.Model): loaded once per process, on first use.

Never before gunicorn forks (the worker's first request or its warm-up loads it), guarded
by a lock so concurrent threads share it. Views, services and workers get it here; templates
and filters never do: a stored prediction is shown with what was stored. reference.py holds
the served model's approved-drug reference.
"""

from __future__ import annotations

import threading

from chemcore.model import Model

_model: Model | None = None
_lock = threading.Lock()


def get_model() -> Model:
    """The model in settings.PREDICTION_MODEL_DIR, loaded on first use."""
    global _model
    if _model is None:
        with _lock:
            if _model is None:
                from django.conf import settings

                from chemreport import units

                _model = Model.load(
                    settings.PREDICTION_MODEL_DIR,
                    threads=settings.TORCH_THREADS,
                    engine="numpy" if settings.MODEL_ENGINE == "numpy" else "auto",
                )
                units.remember_decimals(_model.test_metrics)
                _release_free_memory()
    return _model


def _release_free_memory() -> None:
    """Give the heap that loading freed (parsed JSON, checkpoint buffers) back to the system:
    glibc keeps freed memory in the process otherwise. Nothing where there is no glibc."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def model_loaded() -> bool:
    """Whether this process has loaded its model (a batch page says "loading" until then)."""
    return _model is not None


def reset_model() -> None:
    """Forget the loaded model, so the next use loads settings.PREDICTION_MODEL_DIR again
    (tests that serve a checkpoint they built)."""
    global _model
    with _lock:
        _model = None


def warm_up() -> None:
    """Load the model now (worker and web start), not on the first request."""
    get_model()
