"""Background jobs (Huey) and caches: Redis when REDIS_URL is set, else files under VAR_DIR."""

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from .env import env_bool, env_float, env_int, env_path, env_str

REDIS_URL = env_str("REDIS_URL")

# Rendered downloads (report card, drug scatter, captioned and phone plots, bundle.zip) are
# kept by what determines them (predictions/views.py: the prediction's version, the weights,
# the reference, the code): "memory" (each web process its own), "file" (shared by the workers
# of one host, in RENDER_CACHE_DIR), "redis" (REDIS_URL) or "off".
RENDER_CACHE = env_str("RENDER_CACHE", "memory").strip().lower()
if RENDER_CACHE not in {"memory", "file", "redis", "off"} or (
    RENDER_CACHE == "redis" and not REDIS_URL
):
    raise ImproperlyConfigured("RENDER_CACHE is memory, file, off, or redis (with REDIS_URL).")
render_entries = {"MAX_ENTRIES": env_int("RENDER_CACHE_ENTRIES", 300, minimum=1)}
render_seconds = env_int("RENDER_CACHE_SECONDS", 24 * 3600, minimum=0)

# --- Background jobs (Huey) ------------------------------------------------------------
HUEY_IMMEDIATE = env_bool("HUEY_IMMEDIATE", False)
# An idle worker polls the SQLite queue at least every HUEY_MAX_DELAY seconds (Huey's own
# back-off reaches 10 s, which left a new batch waiting for seconds); Redis wakes it at once.
HUEY_MAX_DELAY = env_float("HUEY_MAX_DELAY", 0.25)
HUEY_CONSUMER = {
    "initial_delay": min(0.05, HUEY_MAX_DELAY),
    "backoff": 1.15,
    "max_delay": HUEY_MAX_DELAY,
}
# Workers load the model when they start, not when the first batch arrives.
WORKER_PRELOAD_MODEL = env_bool("WORKER_PRELOAD_MODEL", True)


def state(var_dir: Path) -> dict:
    """CACHES, RENDER_CACHE_DIR and HUEY: the files they keep (without Redis) under `var_dir`."""
    # The default cache holds the API's throttle counters (and, with Redis, axes' login
    # attempts). Without Redis it is a directory of files, shared by every web worker of this
    # host (a per-process memory cache let each worker count its own 60/min); one check costs
    # ~0.6 ms (3 ms with 1,000 clients counted in the last minute). Several hosts: Redis.
    if REDIS_URL:
        default = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    else:
        default = {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(env_path("THROTTLE_CACHE_DIR", var_dir / "throttle-cache")),
            "OPTIONS": {"MAX_ENTRIES": 2000},
        }
    render_dir = env_path("RENDER_CACHE_DIR", var_dir / "render-cache")
    renders = {
        "memory": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                   "LOCATION": "renders", "OPTIONS": render_entries},
        "file": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                 "LOCATION": str(render_dir), "OPTIONS": render_entries},
        "redis": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL},
        "off": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
    }[RENDER_CACHE]  # fmt: skip
    if REDIS_URL:
        huey = {"huey_class": "huey.RedisHuey", "name": "smiles_site", "url": REDIS_URL}
    else:
        huey = {
            "huey_class": "huey.SqliteHuey",
            "name": "smiles_site",
            "filename": str(env_path("HUEY_SQLITE_PATH", var_dir / "huey.sqlite3")),
        }
    return {
        "CACHES": {
            "default": default,
            "renders": {**renders, "TIMEOUT": render_seconds, "KEY_PREFIX": "render"},
        },
        "RENDER_CACHE_DIR": render_dir,
        "HUEY": {**huey, "immediate": HUEY_IMMEDIATE, "consumer": HUEY_CONSUMER},
    }
