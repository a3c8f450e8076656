"""Settings for the SMILES property-prediction site, assembled from modules by concern.

Every value that differs between machines is read from the environment once, in the module
of its concern (through env.py, which checks it): database.py (SQLite, or MongoDB with
MONGODB_URI), queue.py (Huey and caches; Redis with REDIS_URL), security.py, api.py,
model.py, limits.py, base.py (apps, middleware, templates, static files). state.py derives
what lives under VAR_DIR; test.py is the test suite's settings.
"""

from .api import *  # noqa: F403
from .base import *  # noqa: F403
from .database import *  # noqa: F403
from .limits import *  # noqa: F403
from .model import *  # noqa: F403
from .queue import *  # noqa: F403
from .security import *  # noqa: F403
from .security import DEBUG, secret_key
from .state import under, var_dir

globals().update(under(var_dir(BASE_DIR / "var")))  # noqa: F405


# SECRET_KEY is resolved when Django reads these settings, not when this package is imported:
# importing smiles_site.settings.test imports this package first, and must not need
# DJANGO_SECRET_KEY. Production still refuses to start without it (Django reads every
# setting at startup).
def __getattr__(name: str):
    if name == "SECRET_KEY":
        return secret_key(DEBUG)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return [*globals(), "SECRET_KEY"]
