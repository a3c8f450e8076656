"""Configuration: storage picked by MONGODB_URI, migration trees in sync, deploy checks."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow  # each test starts manage.py in a fresh process


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


def test_sqlite_is_the_default():
    assert settings_value("settings.DATABASES['default']['ENGINE']") == "django.db.backends.sqlite3"


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


def test_login_attempts_are_counted_in_redis_when_there_is_one_else_in_the_database():
    assert settings_value("settings.AXES_HANDLER").endswith("AxesDatabaseHandler")
    redis = {"REDIS_URL": "redis://cache.example:6379/0"}
    assert settings_value("settings.AXES_HANDLER", **redis).endswith("AxesCacheHandler")
    assert settings_value("settings.CACHES['default']['BACKEND']", **redis).endswith("RedisCache")
    assert settings_value("settings.AXES_FAILURE_LIMIT") == "10"


@pytest.mark.parametrize("mongo", [False, True], ids=["sqlite-tree", "mongo-tree"])
def test_migration_trees_match_the_models(mongo):
    env = {"MONGODB_URI": "mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=100"} if mongo else {}
    result = run_manage("makemigrations_offline", "--check", "--dry-run", **env)
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_to_start_without_a_secret_key():
    result = run_manage("check", DJANGO_SECRET_KEY="", DJANGO_DEBUG="false")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


def test_debug_is_off_unless_asked():
    assert settings_value("settings.DEBUG") == "False"
    assert settings_value("settings.DEBUG", DJANGO_DEBUG="true") == "True"


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


def test_model_directory_comes_from_the_environment(tmp_path):
    assert settings_value(
        "settings.PREDICTION_MODEL_DIR", PREDICTION_MODEL_DIR=str(tmp_path)
    ) == str(tmp_path)
    assert settings_value("settings.PREDICTION_MODEL_DIR").endswith("checkpoints/default")


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
