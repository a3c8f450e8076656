"""Storage: the embedded SQLite file by default, MongoDB when MONGODB_URI is set.

The one place the backend is chosen; anything else that depends on it reads USING_MONGODB.
"""

from pathlib import Path

from .env import env_path, env_str

MONGODB_URI = env_str("MONGODB_URI")
USING_MONGODB = bool(MONGODB_URI)

if USING_MONGODB:
    # ObjectId primary keys: contrib apps need AppConfigs and migrations of their own.
    contrib_apps = [
        "smiles_site.mongo_apps.MongoAdminConfig",
        "smiles_site.mongo_apps.MongoAuthConfig",
        "smiles_site.mongo_apps.MongoContentTypesConfig",
        "smiles_site.mongo_apps.MongoAxesConfig",
    ]
    DEFAULT_AUTO_FIELD = "django_mongodb_backend.fields.ObjectIdAutoField"
    MIGRATION_MODULES = {
        "admin": "smiles_site.mongo_migrations.admin",
        "auth": "smiles_site.mongo_migrations.auth",
        "contenttypes": "smiles_site.mongo_migrations.contenttypes",
        "axes": "smiles_site.mongo_migrations.axes",
        "predictions": "predictions.mongo_migrations",
        "batches": "batches.mongo_migrations",
    }
else:
    contrib_apps = [
        "django.contrib.admin",
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "axes",
    ]
    DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


def databases(var_dir: Path) -> dict:
    """DATABASES, with the SQLite file under `var_dir` unless SQLITE_PATH says otherwise."""
    if USING_MONGODB:
        return {
            "default": {
                "ENGINE": "django_mongodb_backend",
                "HOST": MONGODB_URI,
                "NAME": env_str("MONGODB_NAME", "smiles_site"),
            }
        }
    return {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(env_path("SQLITE_PATH", var_dir / "db.sqlite3")),
            # WAL: readers never wait for the writer (web and worker share the file), and with
            # synchronous=NORMAL a commit is not an fsync (~20 ms of a new prediction); a
            # power cut can lose the last commits, never corrupt the file. IMMEDIATE: a
            # writer takes the lock at BEGIN, so concurrent writers wait instead of failing.
            # One connection per worker process, kept between requests: opening one (with
            # its PRAGMAs) and closing it (SQLite checkpoints the WAL when the last connection
            # closes) cost about 2 ms of every request, a 304 included. Checked before reuse.
            "CONN_MAX_AGE": None,
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": {
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
            },
        }
    }
