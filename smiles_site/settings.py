"""Settings for the SMILES property-prediction site.

Every value that differs between machines is read from the environment here, once.
`MONGODB_URI` switches storage from the embedded SQLite default to MongoDB.
"""

import os
from pathlib import Path

from csp.constants import NONE, SELF, UNSAFE_HASHES, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    return env(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = env(name)
    return int(value) if value.strip() else default


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. Set it (production) or set DJANGO_DEBUG=true "
            "for local development."
        )
    SECRET_KEY = "insecure-development-key-only-used-when-DJANGO_DEBUG-is-true"

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

# Writable state (SQLite file, Huey queue) lives here unless told otherwise.
VAR_DIR = Path(env("SMILES_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

MONGODB_URI = env("MONGODB_URI")
USING_MONGODB = bool(MONGODB_URI)

if USING_MONGODB:
    # ObjectId primary keys: contrib apps need AppConfigs and migrations of their own.
    _contrib = [
        "smiles_site.mongo_apps.MongoAdminConfig",
        "smiles_site.mongo_apps.MongoAuthConfig",
        "smiles_site.mongo_apps.MongoContentTypesConfig",
        "smiles_site.mongo_apps.MongoAxesConfig",
    ]
    DATABASES = {
        "default": {
            "ENGINE": "django_mongodb_backend",
            "HOST": MONGODB_URI,
            "NAME": env("MONGODB_NAME", "smiles_site"),
        }
    }
    DEFAULT_AUTO_FIELD = "django_mongodb_backend.fields.ObjectIdAutoField"
    MIGRATION_MODULES = {
        "admin": "smiles_site.mongo_migrations.admin",
        "auth": "smiles_site.mongo_migrations.auth",
        "contenttypes": "smiles_site.mongo_migrations.contenttypes",
        "axes": "smiles_site.mongo_migrations.axes",
        "predictions": "predictions.mongo_migrations",
    }
else:
    _contrib = [
        "django.contrib.admin",
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "axes",
    ]
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env("SQLITE_PATH", str(VAR_DIR / "db.sqlite3")),
            # WAL: readers never wait for the writer (web and worker share the file), and with
            # synchronous=NORMAL a commit is not an fsync (~20 ms of a new prediction); a
            # power cut can lose the last commits, never corrupt the file. IMMEDIATE: a
            # writer takes the lock at BEGIN, so concurrent writers wait instead of failing.
            "OPTIONS": {
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
            },
        }
    }
    DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    *_contrib,
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "csp",
    "huey.contrib.djhuey",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "predictions",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "predictions.middleware.BodySizeLimitMiddleware",  # before anything reads the body
    "predictions.middleware.ApiJsonErrorsMiddleware",  # JSON errors under /api/, DEBUG or not
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",  # last: answers a locked-out login with 429
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out client before checking
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "smiles_site.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "smiles_site.wsgi.application"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env("DJANGO_STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Uploads: refuse large bodies before they reach a view.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 2 * 1024 * 1024)

# Security: safe by default, HTTPS hardening switched on with DJANGO_SECURE=true.
SECURE = env_bool("DJANGO_SECURE", not DEBUG)
SESSION_COOKIE_SECURE = SECURE
CSRF_COOKIE_SECURE = SECURE
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", SECURE)
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 31536000 if SECURE else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE
SECURE_HSTS_PRELOAD = SECURE
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if SECURE else None
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

# Content-Security-Policy on every response (django-csp 4): scripts, images and requests
# from this site only; no inline script, no eval, no plugins, no framing. The vendored htmx
# and JSME run under it: htmx's own indicator <style> is switched off (base.html); JSME's
# code runs from blob: URLs (static/js/editor.js). Two allowances, both for JSME (GWT):
# its two fixed handler attributes, allowed by their hashes (JSME_HANDLERS), and styles: it
# injects <style> elements and style attributes at run time, so styles may be inline (they
# cannot run script; our own templates have none: tests/test_http_hygiene.py).
# Responses that set their own policy (SVG downloads) keep it.
JSME_HANDLERS = [
    "'sha256-g7wg5CBiTBg4MgIAay55gUlhimBUFQMQ7aF7FDBNvos='",  # this.__gwtLastUnhandledEvent="load";
    "'sha256-i+qr4lq34KgNHiW62lWi9aInEBwiEOrfCzaNPCvkqD8='",  # return;  (its touch-support probe)
]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, "blob:"],
        "script-src-attr": [UNSAFE_HASHES, *JSME_HANDLERS],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# Admin login throttling (django-axes): after AXES_FAILURE_LIMIT wrong passwords for one
# username from one client address, further logins of that username from that address are
# refused with HTTP 429 for AXES_COOLOFF_MINUTES.
# Attempts are counted in Redis when REDIS_URL is set (shared by every web worker, and no
# models used: the way on MongoDB), else in axes' tables (SQLite).
REDIS_URL = env("REDIS_URL")
# The default cache holds the API's throttle counters (and, with Redis, axes' login attempts).
# Without Redis it is a directory of files under SMILES_VAR_DIR, shared by every web worker
# of this host (a per-process memory cache let each worker count its own 60/min); one check
# costs ~0.6 ms (3 ms with 1,000 clients counted in the last minute). Several hosts: Redis.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": env("THROTTLE_CACHE_DIR", str(VAR_DIR / "throttle-cache")),
        "OPTIONS": {"MAX_ENTRIES": 2000},
    }
}
if REDIS_URL:
    CACHES["default"] = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
    }
    AXES_HANDLER = "axes.handlers.cache.AxesCacheHandler"
else:
    AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"

AXES_ENABLE_ADMIN = not REDIS_URL  # lockouts are listed in the admin when stored as rows
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 10)
AXES_COOLOFF_TIME = env_int("AXES_COOLOFF_MINUTES", 15) / 60  # hours, as a float
# Locked out: that username from that address. Per address alone, one attacker behind a
# proxy (or DJANGO_PROXY_COUNT unset behind one) locked out every curator; per username alone,
# anyone could lock a curator out from anywhere. Each username gets AXES_FAILURE_LIMIT tries
# per address.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Behind a reverse proxy, the client address is the last proxy's X-Forwarded-For entry.
# DJANGO_PROXY_COUNT: how many proxies of ours add an entry (docker-compose.yml: nginx, 1);
# 0 (the default): X-Forwarded-For is ignored, the client is the connection's address. The
# API throttle (REST_FRAMEWORK["NUM_PROXIES"]) and the admin lockout read the same count.
PROXY_COUNT = env_int("DJANGO_PROXY_COUNT", 0)
AXES_IPWARE_PROXY_COUNT = PROXY_COUNT or None
if AXES_IPWARE_PROXY_COUNT:
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")

# Rendered downloads (report card, drug scatter, captioned and phone plots, bundle.zip) are
# kept by what determines them (predictions/views.py: the prediction's version, the weights,
# the reference, the code): "memory" (each web process its own), "file" (shared by the workers
# of one host, in RENDER_CACHE_DIR), "redis" (REDIS_URL) or "off".
RENDER_CACHE = env("RENDER_CACHE", "memory").strip().lower()
RENDER_CACHE_DIR = Path(env("RENDER_CACHE_DIR", str(VAR_DIR / "render-cache")))
_RENDER_ENTRIES = {"MAX_ENTRIES": env_int("RENDER_CACHE_ENTRIES", 300)}
_RENDER_BACKENDS = {
    "memory": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "renders",
               "OPTIONS": _RENDER_ENTRIES},
    "file": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
             "LOCATION": str(RENDER_CACHE_DIR), "OPTIONS": _RENDER_ENTRIES},
    "redis": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL},
    "off": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
}  # fmt: skip
if RENDER_CACHE not in _RENDER_BACKENDS or (RENDER_CACHE == "redis" and not REDIS_URL):
    raise ImproperlyConfigured("RENDER_CACHE is memory, file, off, or redis (with REDIS_URL).")
CACHES["renders"] = {
    **_RENDER_BACKENDS[RENDER_CACHE],
    "TIMEOUT": env_int("RENDER_CACHE_SECONDS", 24 * 3600),
    "KEY_PREFIX": "render",
}

# --- The prediction model -------------------------------------------------------------
PREDICTION_MODEL_DIR = Path(env("PREDICTION_MODEL_DIR", str(BASE_DIR / "checkpoints" / "default")))
# Approved drugs predicted by that checkpoint (`manage.py build_drug_reference`); empty: its
# approved_drugs.csv. Ignored when made for other weights.
DRUG_REFERENCE_PATH = env("DRUG_REFERENCE_PATH", "")
# Threads torch may use in each process (gunicorn worker / Huey consumer).
TORCH_THREADS = env_int(
    "TORCH_THREADS", max(1, (os.cpu_count() or 1) // env_int("WEB_CONCURRENCY", 1))
)
# Longest SMILES text accepted (characters); the model's token limit is checked separately.
SMILES_MAX_CHARS = env_int("SMILES_MAX_CHARS", 500)

# --- Time budgets on RDKit calls that can run for minutes (predictions/bounded.py) -----
# Enforced: the call runs in a helper process, killed at the deadline.
# A 2D layout (CoordGen, then RDKit's own) gets this long each; then the picture is a
# placeholder. The picture is stored either way, so the time is spent once.
DEPICTION_BUDGET_SECONDS = float(env("DEPICTION_BUDGET_SECONDS", "0.4"))
# A substructure search's atom-by-atom matching gets this long (the page then says how many
# candidates were checked); drawing its page's highlighted matches as long again.
SEARCH_BUDGET_SECONDS = float(env("SEARCH_BUDGET_SECONDS", "3"))

# --- Gallery ---------------------------------------------------------------------------
GALLERY_PAGE_SIZES = (12, 24, 48, 96)

# --- JSON API (/api/v1/) ---------------------------------------------------------------
# Throttle counters live in the default cache: Redis when REDIS_URL is set (above, shared by
# every web worker), else files shared by the workers of this host. The client is the
# connection's address, or with DJANGO_PROXY_COUNT proxies the entry the last one added.
# Requests without an API token: this many per minute (per client address), "60/min".
API_ANON_RATE = env("API_ANON_RATE", "60/min")
# Per visitor (client address; API tokens and signed-in staff are not counted), in the same
# cache, answered 429 with Retry-After; "off" turns one off. Batch uploads from the batch
# page, a pasted list or the API, counted together:
BATCH_UPLOAD_RATE = env("BATCH_UPLOAD_RATE", "10/hour")
# Report cards (report.png, report.pdf), bundle.zip and captioned plots (?download=1): seconds
# of CPU each, drawn once per version (the render cache) but different molecules are not.
HEAVY_DOWNLOAD_RATE = env("HEAVY_DOWNLOAD_RATE", "10/min")
# Most molecules in one POST /api/v1/predict call.
API_MAX_MOLECULES = env_int("API_MAX_MOLECULES", 100)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_THROTTLE_CLASSES": ["predictions.api.throttling.AnonymousThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "predictions.api.schema.ApiSchema",
    "EXCEPTION_HANDLER": "predictions.api.errors.exception_handler",
    "NUM_PROXIES": PROXY_COUNT,
    "URL_FORMAT_OVERRIDE": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "SMILES property predictor API",
    "DESCRIPTION": (
        "Predict molecular properties from SMILES, read stored predictions, run batches. "
        "Anonymous calls are throttled; send `Authorization: Token <key>` (keys are made "
        "in the admin) to lift the limit."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- Background jobs (Huey) ------------------------------------------------------------
HUEY_IMMEDIATE = env_bool("HUEY_IMMEDIATE", False)
# An idle worker polls the SQLite queue at least every HUEY_MAX_DELAY seconds (Huey's own
# back-off reaches 10 s, which left a new batch waiting for seconds); Redis wakes it at once.
HUEY_MAX_DELAY = float(env("HUEY_MAX_DELAY", "0.25"))
HUEY_CONSUMER = {
    "initial_delay": min(0.05, HUEY_MAX_DELAY),
    "backoff": 1.15,
    "max_delay": HUEY_MAX_DELAY,
}
# Workers load the model when they start, not when the first batch arrives.
WORKER_PRELOAD_MODEL = env_bool("WORKER_PRELOAD_MODEL", True)
if REDIS_URL:
    HUEY = {
        "huey_class": "huey.RedisHuey",
        "name": "smiles_site",
        "url": REDIS_URL,
        "immediate": HUEY_IMMEDIATE,
        "consumer": HUEY_CONSUMER,
    }
else:
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": "smiles_site",
        "filename": env("HUEY_SQLITE_PATH", str(VAR_DIR / "huey.sqlite3")),
        "immediate": HUEY_IMMEDIATE,
        "consumer": HUEY_CONSUMER,
    }

# --- Batch predictions -----------------------------------------------------------------
# Uploads larger than this, or with more data rows, are refused before anything is queued.
BATCH_MAX_UPLOAD_BYTES = env_int("BATCH_MAX_UPLOAD_BYTES", 20 * 1024 * 1024)
BATCH_MAX_ROWS = env_int("BATCH_MAX_ROWS", 100_000)
# Columns (CSV/TSV) or distinct SD fields: every row stores its carried cells by column name.
BATCH_MAX_COLUMNS = env_int("BATCH_MAX_COLUMNS", 200)
# Rows per unit of work: parsed, predicted and stored together, then progress is saved.
BATCH_CHUNK_ROWS = env_int("BATCH_CHUNK_ROWS", 500)
# Molecules per forward pass in the worker (sorted by length, so little padding).
BATCH_INFERENCE_SIZE = env_int("BATCH_INFERENCE_SIZE", 128)
# Helper processes that compute a batch's RDKit profiles while the worker predicts the next
# rows (predictions/batch/profiles.py); 0: the worker computes them itself, after the rows.
BATCH_PROFILE_PROCESSES = env_int(
    "BATCH_PROFILE_PROCESSES", max(0, min(2, (os.cpu_count() or 1) - 1))
)
# Fairness: after this many seconds of work a batch steps aside (between two chunks) when other
# tasks wait in the queue, and is queued again behind them, so visitors' batches take turns.
BATCH_SLICE_SECONDS = float(env("BATCH_SLICE_SECONDS", "5"))
# A worker holds a batch this long between chunks; a dead worker's batch is taken over after it.
BATCH_LEASE_SECONDS = env_int("BATCH_LEASE_SECONDS", 120)
# Uploaded files wait here for the worker (share this directory between web and worker).
BATCH_UPLOAD_DIR = Path(env("BATCH_UPLOAD_DIR", str(VAR_DIR / "batches")))
# results.zip files the worker builds, served from here (web and worker must share it too).
BATCH_EXPORT_DIR = Path(env("BATCH_EXPORT_DIR", str(VAR_DIR / "exports")))
# Storage a batch may take for the columns / SD fields it carries beside the SMILES (every row
# keeps each one by name): estimated at upload as rows x names + the file's bytes; over it, the
# upload is refused (a 100,000-record SDF with 200 fields once stored 229 MB of them).
BATCH_MAX_CARRIED_BYTES = env_int("BATCH_MAX_CARRIED_BYTES", 64 * 1024 * 1024)
# Expiry (`manage.py expire_batches`, run hourly by the worker): finished batches (their rows,
# upload and ZIP) this many days after they finished; a built results.zip this many days after
# it was built (asked for again, it is built again); partial files left by a killed upload or
# ZIP build, and uploads no batch refers to, after this many hours. 0: never.
BATCH_EXPIRY_DAYS = env_int("BATCH_EXPIRY_DAYS", 30)
BATCH_ZIP_EXPIRY_DAYS = env_int("BATCH_ZIP_EXPIRY_DAYS", 7)
BATCH_TEMP_EXPIRY_HOURS = env_int("BATCH_TEMP_EXPIRY_HOURS", 6)
# Uploads over FILE_UPLOAD_MAX_MEMORY_SIZE are spooled here (not the system /tmp), so that a
# request killed mid-upload leaves its temporary file where expiry finds it.
FILE_UPLOAD_TEMP_DIR = Path(env("FILE_UPLOAD_TEMP_DIR", str(VAR_DIR / "upload-tmp")))
FILE_UPLOAD_TEMP_DIR.mkdir(parents=True, exist_ok=True)
