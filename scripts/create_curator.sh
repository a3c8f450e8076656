#!/usr/bin/env bash
# Creates a curator: a Django superuser who can sign in at /admin/ to feature, hide and add
# molecules and to issue API tokens. Works on a fresh install made by ./scripts/run.sh (the
# embedded SQLite database, no DJANGO_SECRET_KEY: the same development settings as run.sh);
# with DJANGO_SECRET_KEY set, the deployment's own settings are used as they are.
#
#   ./scripts/create_curator.sh                      # asks for a username, e-mail and password
#   DJANGO_SUPERUSER_PASSWORD=... ./scripts/create_curator.sh --noinput --username ada --email ada@example.org
#
# Any option is passed on to `manage.py createsuperuser`.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY="$VENV/bin/python"
if [ ! -x "$PY" ]; then
  echo "No virtual environment at $VENV: run ./scripts/run.sh once first." >&2
  exit 1
fi
if [ -z "${DJANGO_SECRET_KEY:-}" ]; then
  export DJANGO_DEBUG=${DJANGO_DEBUG:-true}  # as ./scripts/run.sh: the embedded defaults
fi
"$PY" manage.py migrate --noinput >/dev/null  # a fresh install has no user table yet
exec "$PY" manage.py createsuperuser "$@"
