"""Configuration: storage picked by MONGODB_URI, migration trees in sync, deploy checks; the
settings package itself (modules by concern, each variable read once and checked)."""

import os
import re
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from smiles_site.settings import env
from smiles_site.settings.security import secret_key

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = ROOT / "smiles_site" / "settings"
slow = pytest.mark.slow  # the tests that start manage.py in a fresh process


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    # A clean environment: nothing inherited from the test settings (DJANGO_*, MONGODB_*).
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "MONGODB_", "PREDICTION_"))
    }
    environ.update(
        {"DJANGO_SECRET_KEY": "x" * 50, "DJANGO_SETTINGS_MODULE": "smiles_site.settings", **env}
    )
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
    )


def settings_value(expr: str, **env: str) -> str:
    code = f"from django.conf import settings; print({expr})"
    return run_manage("shell", "--no-imports", "-c", code, **env).stdout.strip()


@slow
def test_sqlite_is_the_default():
    assert settings_value("settings.DATABASES['default']['ENGINE']") == "django.db.backends.sqlite3"


@slow
def test_mongodb_uri_switches_to_the_official_backend():
    env = {
        "MONGODB_URI": "mongodb://db.example:27017/?serverSelectionTimeoutMS=100",
        "MONGODB_NAME": "site",
    }
    assert (
        settings_value("settings.DATABASES['default']['ENGINE']", **env) == "django_mongodb_backend"
    )
    assert settings_value("settings.DATABASES['default']['HOST']", **env) == env["MONGODB_URI"]
    assert settings_value("settings.DEFAULT_AUTO_FIELD", **env).endswith("ObjectIdAutoField")
    assert (
        settings_value("settings.MIGRATION_MODULES['predictions']", **env)
        == "predictions.mongo_migrations"
    )
    apps = settings_value("[a for a in settings.INSTALLED_APPS if 'Mongo' in a]", **env)
    assert (
        "MongoAdminConfig" in apps
        and "MongoAuthConfig" in apps
        and "MongoContentTypesConfig" in apps
        and "MongoAxesConfig" in apps
    )
    assert settings_value("settings.MIGRATION_MODULES['axes']", **env).endswith(
        "mongo_migrations.axes"
    )


@slow
def test_login_attempts_are_counted_in_redis_when_there_is_one_else_in_the_database():
    assert settings_value("settings.AXES_HANDLER").endswith("AxesDatabaseHandler")
    redis = {"REDIS_URL": "redis://cache.example:6379/0"}
    assert settings_value("settings.AXES_HANDLER", **redis).endswith("AxesCacheHandler")
    assert settings_value("settings.CACHES['default']['BACKEND']", **redis).endswith("RedisCache")
    assert settings_value("settings.AXES_FAILURE_LIMIT") == "10"


@slow
@pytest.mark.parametrize("mongo", [False, True], ids=["sqlite-tree", "mongo-tree"])
def test_migration_trees_match_the_models(mongo):
    env = {"MONGODB_URI": "mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=100"} if mongo else {}
    result = run_manage("makemigrations_offline", "--check", "--dry-run", **env)
    assert result.returncode == 0, result.stdout + result.stderr


@slow
def test_production_refuses_to_start_without_a_secret_key():
    result = run_manage("check", DJANGO_SECRET_KEY="", DJANGO_DEBUG="false")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


@slow
def test_debug_is_off_unless_asked():
    assert settings_value("settings.DEBUG") == "False"
    assert settings_value("settings.DEBUG", DJANGO_DEBUG="true") == "True"


@slow
@pytest.mark.parametrize("redis", [False, True], ids=["database-attempts", "redis-attempts"])
def test_check_deploy_is_clean_under_production_settings(redis):
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_SECRET_KEY="a-long-random-production-secret-" + "k" * 40,
        DJANGO_ALLOWED_HOSTS="predict.example.org",
        **({"REDIS_URL": "redis://cache.example:6379/0"} if redis else {}),
    )
    assert result.returncode == 0, result.stdout + result.stderr


@slow
def test_model_directory_comes_from_the_environment(tmp_path):
    assert settings_value(
        "settings.PREDICTION_MODEL_DIR", PREDICTION_MODEL_DIR=str(tmp_path)
    ) == str(tmp_path)
    assert settings_value("settings.PREDICTION_MODEL_DIR").endswith("checkpoints/default")


@slow
def test_the_sqlite_file_is_in_wal_mode_with_normal_sync(tmp_path):
    code = (
        "from django.db import connection; c = connection.cursor(); "
        "print(c.execute('PRAGMA journal_mode').fetchone()[0], "
        "c.execute('PRAGMA synchronous').fetchone()[0])"
    )
    result = run_manage(
        "shell", "--no-imports", "-c", code, SQLITE_PATH=str(tmp_path / "db.sqlite3")
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["wal", "1"]  # 1 = NORMAL: no fsync per commit


# --- The settings package --------------------------------------------------------------

# Every variable the settings read, each in exactly one place (smiles_site/settings/).
VARIABLES = """
    API_ANON_RATE API_MAX_MOLECULES AXES_COOLOFF_MINUTES AXES_FAILURE_LIMIT BATCH_CHUNK_ROWS
    BATCH_EXPIRY_DAYS BATCH_EXPORT_DIR BATCH_INFERENCE_SIZE BATCH_LEASE_SECONDS
    BATCH_MAX_CARRIED_BYTES BATCH_MAX_COLUMNS BATCH_MAX_ROWS BATCH_MAX_UPLOAD_BYTES
    BATCH_PARALLEL_TASKS BATCH_PROFILE_PROCESSES BATCH_SLICE_SECONDS BATCH_TEMP_EXPIRY_HOURS BATCH_UPLOAD_DIR
    BATCH_UPLOAD_RATE BATCH_ZIP_EXPIRY_DAYS DATA_UPLOAD_MAX_MEMORY_SIZE DEPICTION_BUDGET_SECONDS
    DJANGO_ALLOWED_HOSTS DJANGO_CSRF_TRUSTED_ORIGINS DJANGO_DEBUG DJANGO_HSTS_SECONDS
    DJANGO_PROXY_COUNT DJANGO_SECRET_KEY DJANGO_SECURE DJANGO_SECURE_SSL_REDIRECT
    DJANGO_STATIC_ROOT DRUG_REFERENCE_PATH FILE_UPLOAD_TEMP_DIR HEAVY_DOWNLOAD_RATE
    HUEY_IMMEDIATE HUEY_MAX_DELAY HUEY_SQLITE_PATH MODEL_ENGINE MONGODB_NAME MONGODB_URI
    PREDICTION_MODEL_DIR
    REDIS_URL RENDER_CACHE RENDER_CACHE_DIR RENDER_CACHE_ENTRIES RENDER_CACHE_SECONDS
    SEARCH_BUDGET_SECONDS SMILES_MAX_CHARS SMILES_VAR_DIR SQLITE_PATH THROTTLE_CACHE_DIR
    TORCH_THREADS WEB_CONCURRENCY WORKER_PRELOAD_MODEL
""".split()
READ = re.compile(r"\benv_(?:str|bool|int|float|path|list|choice)\(\s*\"([A-Z0-9_]+)\"")


def _modules() -> dict[str, str]:
    return {path.name: path.read_text(encoding="utf-8") for path in SETTINGS.glob("*.py")}


def test_every_settings_module_is_short():
    lengths = {name: len(text.splitlines()) for name, text in _modules().items()}
    assert {"base.py", "database.py", "queue.py", "security.py", "model.py"} <= set(lengths)
    assert {name: n for name, n in lengths.items() if n >= 120} == {}


def test_each_variable_is_read_in_one_place_only():
    reads = [(name, var) for name, text in _modules().items() for var in READ.findall(text)]
    names = [var for _, var in reads]
    assert sorted(names) == sorted(VARIABLES), "read twice, or not at all"
    # Only env.py touches the environment; the rest go through its helpers.
    for name, text in _modules().items():
        if name != "env.py":
            assert not re.search(r"os\.environ|getenv", text), name
    # The old single-file settings module is gone.
    assert not (ROOT / "smiles_site" / "settings.py").exists()


def test_the_database_backend_is_chosen_in_one_module():
    for name, text in _modules().items():
        if name != "database.py":
            assert "django_mongodb_backend" not in text, name
            assert "if USING_MONGODB" not in text and 'env_str("MONGODB_URI")' not in text, name


@pytest.mark.parametrize(
    ("read", "value", "message"),
    [
        (partial(env.env_int, "X_SETTINGS_TEST", 5, minimum=1), "lots", "X_SETTINGS_TEST='lots'"),
        (partial(env.env_int, "X_SETTINGS_TEST", 5, minimum=1), "0", "at least 1"),
        (partial(env.env_float, "X_SETTINGS_TEST", 0.5), "-1", "X_SETTINGS_TEST='-1'"),
        (partial(env.env_float, "X_SETTINGS_TEST", 0.5), "nan", "at least 0"),
        (partial(env.env_float, "X_SETTINGS_TEST", 0.5), "3s", "a number (seconds)"),
        (partial(env.env_bool, "X_SETTINGS_TEST"), "maybe", "true or false"),
        (partial(env.env_choice, "X_SETTINGS_TEST", "a", ("a", "b")), "onnx", "a or b"),
    ],
)
def test_a_bad_value_is_refused_with_its_name(monkeypatch, read, value, message):
    monkeypatch.setenv("X_SETTINGS_TEST", value)
    with pytest.raises(ImproperlyConfigured, match=re.escape(message)):
        read()


def test_unset_or_blank_takes_the_default(monkeypatch):
    for name, value in [("X_TEST_INT", "  "), ("X_TEST_FLOAT", ""), ("X_TEST_PATH", "")]:
        monkeypatch.setenv(name, value)
    assert env.env_int("X_TEST_INT", 5) == 5
    assert env.env_float("X_TEST_FLOAT", 0.5) == 0.5
    assert env.env_path("X_TEST_PATH", ROOT) == ROOT
    monkeypatch.setenv("X_TEST_BOOL", "")
    assert env.env_bool("X_TEST_BOOL", True) is False  # set but empty: false, as before
    monkeypatch.setenv("X_TEST_BOOL", " YES ")
    assert env.env_bool("X_TEST_BOOL") is True
    monkeypatch.setenv("X_TEST_LIST", " a, ,b ")
    assert env.env_list("X_TEST_LIST") == ["a", "b"]
    monkeypatch.setenv("X_TEST_CHOICE", " ")
    assert env.env_choice("X_TEST_CHOICE", "numpy", ("numpy", "torch")) == "numpy"
    monkeypatch.setenv("X_TEST_CHOICE", "Torch")
    assert env.env_choice("X_TEST_CHOICE", "numpy", ("numpy", "torch")) == "torch"


def test_the_secret_key_is_only_optional_under_debug(monkeypatch):
    monkeypatch.delenv("DJANGO_SECRET_KEY", raising=False)
    with pytest.raises(ImproperlyConfigured, match="DJANGO_SECRET_KEY is not set"):
        secret_key(debug=False)
    assert secret_key(debug=True).startswith("insecure-development-key")
    monkeypatch.setenv("DJANGO_SECRET_KEY", "k" * 50)
    assert secret_key(debug=False) == "k" * 50


def test_the_test_settings_keep_their_state_in_their_own_directory(settings):
    var = str(settings.VAR_DIR)
    assert settings.SECRET_KEY.startswith("test-only") and not settings.SECURE
    assert not settings.SESSION_COOKIE_SECURE and settings.SECURE_HSTS_SECONDS == 0
    assert settings.BATCH_UPLOAD_RATE == settings.HEAVY_DOWNLOAD_RATE == "off"
    derived = [settings.BATCH_UPLOAD_DIR, settings.BATCH_EXPORT_DIR, settings.FILE_UPLOAD_TEMP_DIR]
    derived += [settings.RENDER_CACHE_DIR, settings.STATIC_ROOT]
    if "filename" in settings.HUEY:
        derived += [settings.HUEY["filename"], settings.CACHES["default"]["LOCATION"]]
    assert [str(path) for path in derived if not str(path).startswith(var)] == []


@slow
def test_a_bad_value_stops_the_start_with_a_clear_message():
    result = run_manage("check", BATCH_MAX_ROWS="lots")
    assert result.returncode != 0
    assert "BATCH_MAX_ROWS='lots' is not valid: expected a whole number" in result.stderr
